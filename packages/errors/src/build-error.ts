/** The configuration problems that `build()` reports; docs/errors.md documents each. */
export const buildProblemCodes = [
  'unknown_backend',
  'unknown_policy',
  'duplicate_route',
  'invalid_backend_url',
  'unknown_parameter',
  'invalid_path',
  'invalid_prefix',
  'invalid_option',
] as const;

export type BuildProblemCode = (typeof buildProblemCodes)[number];

export interface BuildProblem {
  readonly code: BuildProblemCode;
  readonly message: string;
  /** `service` or `service METHOD /path`, where the problem is. */
  readonly at?: string;
}

/** Thrown by `build()`: every configuration problem found, not only the first. */
export class GatewayBuildError extends Error {
  readonly problems: readonly BuildProblem[];

  constructor(problems: readonly BuildProblem[]) {
    const lines = problems.map((p) => `  - [${p.code}] ${p.at ? `${p.at}: ` : ''}${p.message}`);
    super(`gateway configuration has ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${lines.join('\n')}`);
    this.name = 'GatewayBuildError';
    this.problems = problems;
  }
}
