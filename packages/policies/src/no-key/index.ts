import type { Strategy } from '../types.ts';

/** Every backend is a candidate and there is no affinity key. */
export const noKey = (): Strategy => ({
  name: 'no-key',
  route: (_request, backends) => ({ key: undefined, candidates: backends }),
});
