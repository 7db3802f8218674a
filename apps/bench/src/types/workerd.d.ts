// workerd ships no types. Its main module is CommonJS whose exports (`default`, the path of the
// platform's binary, and `version`) Node's ESM import sees as the default export's fields.
declare module 'workerd' {
  const workerd: { readonly default: string; readonly version: string };
  export default workerd;
}
