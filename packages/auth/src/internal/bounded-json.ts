/**
 * The most a key set or an introspection answer may weigh: real ones are a few KiB, and an IdP
 * (or what answers in its place) that sends more must not make the gateway hold it all.
 */
export const maxAnswerBytes = 1024 * 1024;

/**
 * Reads a response body as JSON, at most `limit` bytes of it: past that the body is cancelled (its
 * connection released) and the read fails, as it does for a body that is not JSON.
 */
export const boundedJson = async (response: Response, limit = maxAnswerBytes): Promise<unknown> => {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (declared > limit) {
    await response.body?.cancel();
    throw new Error(`the answer declares ${declared} bytes, more than ${limit}`);
  }
  const reader = response.body?.getReader();
  if (reader === undefined) return JSON.parse('');
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw new Error(`the answer is larger than ${limit} bytes`);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return JSON.parse(new TextDecoder().decode(bytes));
};
