// What an excerpt of the validation docs uses without importing it: the validated route builders,
// zod, core's service and gateway, and the answers of @apigate/errors.
export { defineRoutes, get, post, put, patch, del, all } from '@apigate/validation';
export { createGateway, service, type Env, type Gateway } from '@apigate/core';
export { unauthorized, json, respond } from '@apigate/errors';
export { z } from 'zod';
