/**
 * workerd's own byte streams (undefined elsewhere): FixedLengthStream keeps a declared length,
 * IdentityTransformStream is one without a length. workerd cancels a response body only through
 * one of them when its client leaves; a JS ReadableStream it sends from is dropped, never
 * cancelled, and piping one of its own streams into another fails the response.
 */
type ByteTransform = TransformStream<Uint8Array, Uint8Array>;
export const FixedLengthStream = (globalThis as { FixedLengthStream?: new (length: number) => ByteTransform }).FixedLengthStream;
export const IdentityTransformStream = (globalThis as { IdentityTransformStream?: new () => ByteTransform }).IdentityTransformStream;

/** Readables of the runtime's own streams that the fetch transport made. */
const owned = new WeakSet<ReadableStream<Uint8Array>>();
/** Responses whose body is one of them, for the handler to leave as they are (untilSettled). */
const bodied = new WeakSet<Response>();

/** The readable of a runtime stream the transport made, remembered as such. */
export const runtimeReadable = (stream: ByteTransform): ReadableStream<Uint8Array> => {
  owned.add(stream.readable);
  return stream.readable;
};

/** A response for `body`, remembered as one with a runtime stream's body when it is one. */
export const bodyResponse = (body: ReadableStream<Uint8Array>, init: ResponseInit): Response => {
  const response = new Response(body, init);
  if (owned.has(body)) bodied.add(response);
  return response;
};

/** Whether the transport made `response` with the body of one of the runtime's own streams. */
export const hasRuntimeBody = (response: Response): boolean => bodied.has(response);
