import preset from '../../jest.preset.js';

// Each check builds a TypeScript program over the workspace's sources: seconds on a quiet machine,
// minutes on a busy one.
export default { ...preset, testTimeout: 300_000 };
