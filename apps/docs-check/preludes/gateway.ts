// A gateway built elsewhere on the page, for excerpts that mount or use it.
import type { Gateway } from '@apigate/core';

export declare const gateway: Gateway;
