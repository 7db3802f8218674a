// A store slower than this (ms) is not waited for; Redis on the same network answers in well under one.
export const defaultTimeout = 50;

export class StoreTimeout extends Error {
  constructor(ms: number) {
    super(`the rate-limit store did not answer within ${ms} ms`);
    this.name = 'StoreTimeout';
  }
}

export const isThenable = <T>(value: T | PromiseLike<T>): value is PromiseLike<T> => typeof (value as { then?: unknown } | null)?.then === 'function';

/** The store's answer, or a rejection when it takes longer than `ms`: a request never waits on a stuck store. */
export const bounded = <T>(answer: PromiseLike<T>, ms: number): Promise<T> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new StoreTimeout(ms)), ms);
    answer.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });

