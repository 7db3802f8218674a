export { cookieSigner, signedCookies, signedCookiesKey, type CookieSigner, type SignedCookiesOptions, type SignedCookiesScope } from './signed-cookies.ts';
