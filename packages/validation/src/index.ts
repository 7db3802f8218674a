export { defineRoutes, type CheckInput, type MapContext, type MapInput, type PairsOutput, type ParamsOf, type ValidatedRouteBuilders, type ValidatedRouteOptions } from './routes.ts';
// createInput (what the builders put on route.input) is the package's own step, not API: a route
// builder of one's own composes these builders, or implements core's RouteInput.
export { declaredSchemas, defaultMaxDepth, type DeclaredSchemas } from './input.ts';
export { validate, maxIssues, type InputLocation, type Issue } from './standard.ts';

import { defineRoutes } from './routes.ts';

const builders = defineRoutes();
/** Validated route builders for apps without a typed Env; see defineRoutes() for typed state and scope. */
export const { get, post, put, patch, head, options, query, all } = builders;
/** `delete` is a reserved word: import it as `del`, or use defineRoutes(). */
export const del = builders.delete;
