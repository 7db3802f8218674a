import { describe, expect, it } from '@jest/globals';
import { GatewayBuildError, buildProblemCodes, type BuildProblem } from './index.ts';

describe('GatewayBuildError', () => {
  it('lists every problem, with its code and where it is, in the message', () => {
    const problems: BuildProblem[] = [
      { code: 'unknown_policy', message: 'default policy "x" is not registered' },
      { code: 'unknown_backend', at: 'service sales', message: 'no backends given at mount() nor registered for "sales"' },
      { code: 'duplicate_route', at: 'service sales GET /a/{y}', message: 'another route already answers GET /a/{y}' },
    ];
    const error = new GatewayBuildError(problems);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('GatewayBuildError');
    expect(error.problems).toBe(problems);
    expect(error.message).toBe(
      [
        'gateway configuration has 3 problems:',
        '  - [unknown_policy] default policy "x" is not registered',
        '  - [unknown_backend] service sales: no backends given at mount() nor registered for "sales"',
        '  - [duplicate_route] service sales GET /a/{y}: another route already answers GET /a/{y}',
      ].join('\n'),
    );
  });

  it('says "problem" for one', () => {
    expect(new GatewayBuildError([{ code: 'invalid_prefix', at: 'service s', message: 'bad' }]).message).toBe(
      'gateway configuration has 1 problem:\n  - [invalid_prefix] service s: bad',
    );
  });

  it('has a closed list of problem codes', () => {
    expect([...buildProblemCodes].sort()).toEqual([
      'duplicate_route',
      'invalid_backend_url',
      'invalid_option',
      'invalid_path',
      'invalid_prefix',
      'unknown_backend',
      'unknown_parameter',
      'unknown_policy',
    ]);
  });
});
