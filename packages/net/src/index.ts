export { isIp, normalizeIp, ipFamily, type IpFamily } from './ip.js';
export { CidrList } from './cidr.js';
