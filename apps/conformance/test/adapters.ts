import { afterAll, beforeAll, describe } from '@jest/globals';
import { startApp, type AdapterName, type AppOptions, type Target } from './apps.ts';
import { startUpstreams, type Upstreams } from './upstreams.ts';

export { adapterNames, bundleWorker, startApp, workerdOutput, type AdapterName, type AppOptions, type NodeProbe, type Target } from './apps.ts';

/** What every case gets: its adapter's target and the shared upstreams. */
export interface Fixture {
  readonly target: Target;
  readonly upstreams: Upstreams;
}

/**
 * Runs the same cases against every named adapter (h3's describeMatrix, tRPC's adapter tests):
 * the upstreams start once for the file, each adapter's app once for its block.
 */
export const describeAdapters = (names: readonly AdapterName[], cases: (fixture: Fixture, name: AdapterName) => void, options: AppOptions = {}): void => {
  let upstreams: Upstreams | undefined;
  beforeAll(async () => {
    upstreams = await startUpstreams();
  });
  afterAll(async () => {
    await upstreams?.close();
  });
  for (const name of names) {
    describe(name, () => {
      let target: Target | undefined;
      beforeAll(async () => {
        target = await startApp(name, upstreams!.origins, options);
      });
      afterAll(async () => {
        await target?.close();
      });
      const fixture: Fixture = {
        get target() {
          return target!;
        },
        get upstreams() {
          return upstreams!;
        },
      };
      cases(fixture, name);
    });
  }
};
