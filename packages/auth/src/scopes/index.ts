export { requireScopes, type RequireScopesOptions, type ScopeRequirement } from './scopes.ts';
