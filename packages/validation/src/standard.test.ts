import { describe, expect, it } from '@jest/globals';
import { isGatewayError, type GatewayError } from '@apigate/errors';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import * as v from 'valibot';
import { z } from 'zod';
import { isSchema, maxIssues, validate, type InputLocation } from './standard.ts';

const failure = async (schema: StandardSchemaV1, value: unknown, location: InputLocation = 'json'): Promise<GatewayError> => {
  try {
    await validate(schema, value, location);
  } catch (error) {
    if (isGatewayError(error)) return error;
    throw error;
  }
  throw new Error('validate accepted the input');
};

const deep = (levels: number): unknown => {
  let value: unknown = {};
  for (let i = 0; i < levels; i++) value = { child: value };
  return value;
};

type TreeNode = { child?: TreeNode | undefined };
const zodTree: z.ZodType<TreeNode> = z.object({ child: z.lazy(() => zodTree).optional() });
const valibotTree: v.GenericSchema<TreeNode> = v.object({ child: v.optional(v.lazy(() => valibotTree)) });

const order = {
  zod: z.object({ sku: z.string().min(1), qty: z.coerce.number().int().positive(), items: z.array(z.object({ n: z.number() })).optional() }),
  valibot: v.object({
    sku: v.pipe(v.string(), v.minLength(1)),
    qty: v.pipe(v.union([v.string(), v.number()]), v.toNumber(), v.integer(), v.minValue(1)),
    items: v.optional(v.array(v.object({ n: v.number() }))),
  }),
};

describe('validate', () => {
  describe.each(['zod', 'valibot'] as const)('with %s', (vendor) => {
    const schema = order[vendor];

    it('returns the output, coerced', async () => {
      await expect(validate(schema, { sku: 'A1', qty: '3', extra: true }, 'json')).resolves.toEqual({ sku: 'A1', qty: 3 });
    });

    it('refuses an invalid input with 422 validation_failed, listing each issue with in, path and message', async () => {
      const error = await failure(schema, { sku: '', qty: '2', items: [{ n: 1 }, { n: 'x' }] }, 'form');
      expect(error.code).toBe('validation_failed');
      expect(error.status).toBe(422);
      expect(error.message).toBe('The request does not match the expected input.');
      const issues = (error.extensions as { issues: { in: string; path: unknown[]; message: string }[] }).issues;
      expect(issues.map(({ in: location, path }) => ({ in: location, path }))).toEqual([
        { in: 'form', path: ['sku'] },
        { in: 'form', path: ['items', 1, 'n'] },
      ]);
      for (const issue of issues) expect(issue.message).toEqual(expect.any(String));
      expect(error.extensions).not.toHaveProperty('issueCount');
      expect(error.details).toEqual({ issueCount: 2 });
    });

    it('reports an issue on the root with an empty path', async () => {
      const error = await failure(schema, 'not an object', 'query');
      expect(error.extensions).toEqual({ issues: [{ in: 'query', path: [], message: expect.any(String) }] });
    });

    it(`lists at most ${maxIssues} issues and gives the total as issueCount`, async () => {
      const list = vendor === 'zod' ? z.array(z.number()) : v.array(v.number());
      const error = await failure(list, Array.from({ length: 250 }, (_, i) => `n${i}`));
      const extensions = error.extensions as { issues: { path: unknown[] }[]; issueCount: number };
      expect(extensions.issues).toHaveLength(100);
      expect(extensions.issues[0]?.path).toEqual([0]);
      expect(extensions.issues[99]?.path).toEqual([99]);
      expect(extensions.issueCount).toBe(250);
      expect(error.details).toEqual({ issueCount: 250 });
    });

    it('lists exactly 100 issues without an issueCount', async () => {
      const list = vendor === 'zod' ? z.array(z.number()) : v.array(v.number());
      const error = await failure(list, Array.from({ length: 100 }, () => 'x'));
      expect(error.extensions).not.toHaveProperty('issueCount');
    });

    it('validates a recursive schema on a shallow input', async () => {
      const tree = vendor === 'zod' ? zodTree : valibotTree;
      await expect(validate(tree, deep(50), 'json')).resolves.toEqual(deep(50));
    });

    it('refuses a 10 000-deep input to a recursive schema with 422, not a crash (the validator overflows the stack)', async () => {
      const tree = vendor === 'zod' ? zodTree : valibotTree;
      const error = await failure(tree, deep(10_000));
      expect(error.code).toBe('validation_failed');
      expect(error.extensions).toEqual({ issues: [{ in: 'json', path: [], message: 'The input is nested too deeply to validate.' }] });
      expect(error.cause).toBeInstanceOf(RangeError);
    });

    it('passes on an error the validator throws that is not a stack overflow (a 500 in the pipeline)', async () => {
      const boom = new Error('transform failed');
      const throwing =
        vendor === 'zod'
          ? z.string().transform(() => {
              throw boom;
            })
          : v.pipe(
              v.string(),
              v.transform(() => {
                throw boom;
              }),
            );
      await expect(validate(throwing, 'x', 'json')).rejects.toBe(boom);
    });

    it('awaits an async validator, for success and failure', async () => {
      const taken = new Set(['alice']);
      const check = async (name: string): Promise<boolean> => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        return !taken.has(name);
      };
      const user =
        vendor === 'zod'
          ? z.object({ name: z.string().refine(check, 'The name is taken.') })
          : v.objectAsync({ name: v.pipeAsync(v.string(), v.checkAsync(check, 'The name is taken.')) });
      expect(user['~standard'].validate({ name: 'bob' })).toBeInstanceOf(Promise);
      await expect(validate(user, { name: 'bob' }, 'json')).resolves.toEqual({ name: 'bob' });
      const error = await failure(user, { name: 'alice' });
      expect(error.extensions).toEqual({ issues: [{ in: 'json', path: ['name'], message: 'The name is taken.' }] });
    });
  });

  it('turns path segments given as objects or symbols into keys', async () => {
    const key = Symbol('k');
    const custom: StandardSchemaV1 = {
      '~standard': {
        version: 1,
        vendor: 'custom',
        validate: () => ({ issues: [{ message: 'bad', path: [{ key: 'a' }, { key: 2 }, key] }, { message: 'no path' }] }),
      },
    };
    const error = await failure(custom, {}, 'path');
    expect(error.extensions).toEqual({
      issues: [
        { in: 'path', path: ['a', 2, 'Symbol(k)'], message: 'bad' },
        { in: 'path', path: [], message: 'no path' },
      ],
    });
  });

  it('keeps the exact messages zod and valibot give', async () => {
    const zodError = await failure(z.object({ n: z.number() }), { n: 'x' });
    const valibotError = await failure(v.object({ n: v.number() }), { n: 'x' });
    expect(zodError.extensions).toEqual({ issues: [{ in: 'json', path: ['n'], message: 'Invalid input: expected number, received string' }] });
    expect(valibotError.extensions).toEqual({ issues: [{ in: 'json', path: ['n'], message: 'Invalid type: Expected number but received "x"' }] });
  });
});

describe('isSchema', () => {
  it('recognizes Standard Schema validators', () => {
    expect(isSchema(z.string())).toBe(true);
    expect(isSchema(v.string())).toBe(true);
  });

  it.each([
    ['undefined', undefined],
    ['null', null],
    ['a string', 'string'],
    ['a plain object', { type: 'string' }],
    ['a function', () => true],
    ['a ~standard without validate', { '~standard': { version: 1 } }],
  ])('refuses %s', (_name, value) => {
    expect(isSchema(value)).toBe(false);
  });
});
