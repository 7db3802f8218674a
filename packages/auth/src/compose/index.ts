export { allOf, allowPreflight, anonymousConsumer, anyOf, optional, type OptionalOptions } from './compose.ts';
