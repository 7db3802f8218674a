export { consistentHashBalancer } from './consistent-hash.ts';
export { byClientIp, consistentHash } from '../client-ip/index.ts';
