export type { Env, StateOf, ScopeOf, ScopeMatches, WithScope, BindingsOf } from './env.ts';
export type { Platform, RuntimePlatform } from './platform.ts';
export type { ParamNames, PathParams, CheckTo } from './path-template.ts';
export type { Hook, HookResult, RequestContext, RequestHeaders, RouteInfo } from './request.ts';
export {
  defineRoutes,
  service,
  methods,
  type Method,
  type BuildersKind,
  type BuildersOf,
  type Route,
  type RouteBuilders,
  type RouteDescriptor,
  type RouteMethod,
  type RouteOptions,
  type Service,
  type ServiceFactory,
  type ServiceOptions,
} from './routes.ts';
export { roundRobin, smoothRoundRobin, type Backend, type BackendTls, type Pem, type PolicyInstance, type Policy, type PolicyRequest, type UpstreamOutcome } from './policy.ts';
export { loggingObserver, type Logger, type Observer, type RequestEvent } from './observer.ts';
export type { CallbackFailure } from './guard.ts';
export type { BodyTransform, InitContext, Middleware, PhaseContext, ProvidedBy, ResponseContext, ResponseHeaders, RetryContext, ScopeReader, SettleEvent, UpstreamContext } from './middleware.ts';
export { upstreamDefaults, type RouteUpstream, type Transport, type UpstreamConfig } from './upstream.ts';
export type { ForwardPlan, Plan, RespondPlan, ResponseTransforms, SettleInput } from './plan.ts';
export { defaultBodyLimit, type BodySource, type InputContext, type RouteInput } from './input.ts';
// Types only: a gateway is made by createGateway(...).build(), never constructed.
export { createGateway, type Closeable, type Gateway, type GatewayBuilder } from './gateway.ts';
export type { BackendInput, GatewayOptions } from './build.ts';
export type { Match, RequestIO } from './match.ts';

import { defineRoutes } from './routes.ts';

const builders = defineRoutes();
/** Route builders for apps without a typed Env; see defineRoutes() for typed state and scope. */
export const { get, post, put, patch, head, options, query, all } = builders;
/** `delete` is a reserved word: import it as `del`, or use defineRoutes(). */
export const del = builders.delete;
export { runHook, runStandaloneResponse, runStandaloneSettle, isMiddleware, type StandaloneRequest, type StandaloneResponse, type StandaloneResult } from './standalone.ts';
