import { describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { firstJsonLine } from './processes.ts';

// A child that prints what `--trace-opt` would before its port line.
const chatty = () => spawn(process.execPath, ['-e', "console.log('[marking 0x1 <JSFunction f> for optimization to MAGLEV]'); console.log(JSON.stringify({ port: 1234 })); setTimeout(() => {}, 200)"], { stdio: ['ignore', 'pipe', 'pipe'] });

describe('firstJsonLine', () => {
  it('passes over the lines a runtime flag prints before the JSON line when asked to', async () => {
    await expect(firstJsonLine<{ port: number }>(chatty(), 'chatty', 30_000, true)).resolves.toEqual({ port: 1234 });
  });

  it('rejects a first line that is not JSON otherwise', async () => {
    await expect(firstJsonLine(chatty(), 'chatty', 30_000)).rejects.toThrow('chatty: unexpected output "[marking 0x1');
  });
});
