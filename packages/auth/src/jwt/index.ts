export { jwt, claimsKey, type JwtOptions, type JwtScope } from './jwt.ts';
