export { errorStatus, defaultMessage, statusText, isErrorCode, type ErrorCode } from './codes.ts';
export {
  GatewayError,
  isGatewayError,
  toGatewayError,
  badRequest,
  unauthorized,
  forbidden,
  notFound,
  methodNotAllowed,
  payloadTooLarge,
  unsupportedMediaType,
  validationFailed,
  tooManyRequests,
  internal,
  notImplemented,
  badGateway,
  serviceUnavailable,
  gatewayTimeout,
  type GatewayErrorOptions,
  type ProblemType,
} from './gateway-error.ts';
export { respond, json, isGatewayResponse, type GatewayResponse, type ResponseBody } from './response.ts';
export {
  textRenderer,
  jsonRenderer,
  problemRenderer,
  resolveRenderer,
  renderError,
  type ErrorRenderer,
  type RenderContext,
  type RendererOption,
  type ProblemRendererOptions,
} from './renderers.ts';
export { GatewayBuildError, buildProblemCodes, type BuildProblem, type BuildProblemCode } from './build-error.ts';
