export { isIp, normalizeIp, ipFamily, type IpFamily } from './ip.js';
export { CidrList } from './cidr.js';
export {
  parseProxyHeader,
  readProxyHeader,
  ProxyProtocolError,
  V1_MAX_LENGTH,
  V2_MAX_LENGTH,
  type ParsedProxyHeader,
  type ProxyAddress,
  type ProxyErrorCode,
  type ProxyHeader,
} from './proxy-protocol.js';
