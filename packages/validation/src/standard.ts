import { GatewayError } from '@apigate/errors';
import type { StandardSchemaV1 } from '@standard-schema/spec';

/** Where an input came from. */
export type InputLocation = 'path' | 'query' | 'json' | 'form';

/** One schema failure, as the JSON and problem+json renderers list it. */
export interface Issue {
  readonly in: InputLocation;
  readonly path: readonly (string | number)[];
  readonly message: string;
}

/** The most issues a 422 lists: a huge invalid array must not make a huge error. */
export const maxIssues = 100;

const segmentKey = (segment: PropertyKey | StandardSchemaV1.PathSegment): string | number => {
  const key = typeof segment === 'object' ? segment.key : segment;
  return typeof key === 'number' ? key : String(key);
};

const failed = (issues: Issue[], total: number, cause?: unknown): GatewayError =>
  new GatewayError('validation_failed', {
    extensions: total > issues.length ? { issues, issueCount: total } : { issues },
    details: { issueCount: total },
    cause,
  });

export const isSchema = (value: unknown): value is StandardSchemaV1 =>
  typeof value === 'object' && value !== null && typeof (value as { '~standard'?: { validate?: unknown } })['~standard']?.validate === 'function';

/**
 * Validates a value with any Standard Schema v1 validator; a failure becomes a 422
 * `validation_failed` listing the issues. A validator that overflows the stack on a deep input
 * fails the input, not the gateway.
 */
export const validate = async (schema: StandardSchemaV1, value: unknown, location: InputLocation): Promise<unknown> => {
  let result: StandardSchemaV1.Result<unknown>;
  try {
    result = await schema['~standard'].validate(value);
  } catch (error) {
    if (error instanceof RangeError) throw failed([{ in: location, path: [], message: 'The input is nested too deeply to validate.' }], 1, error);
    throw error;
  }
  if (result.issues === undefined) return result.value;
  const issues = result.issues.slice(0, maxIssues).map((issue) => ({ in: location, path: (issue.path ?? []).map(segmentKey), message: issue.message }));
  throw failed(issues, result.issues.length);
};
