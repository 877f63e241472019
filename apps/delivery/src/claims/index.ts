export { Claims, type Claim, type ClaimAnswer, type ClaimStats, type ClaimsOptions } from './claims.js';
export { identify, copyId, COPY_HEADER, CHECK_HEADER, type Identity, type CopyPurpose } from './identity.js';
export { Breaker } from './breaker.js';
