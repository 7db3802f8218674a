// Services declared earlier on the page, for excerpts that mount them.
import type { Service } from '@apigate/core';

export declare const sales: Service, billing: Service, api: Service;
