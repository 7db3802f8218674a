export { introspection, type IntrospectionOptions, type IntrospectionCacheOptions, type IntrospectionScope, type IntrospectedClaims } from './introspection.ts';
