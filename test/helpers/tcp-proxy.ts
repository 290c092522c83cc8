// The proxy lives in scripts/ci so the demo can use it too (scripts may not import test/).
export { TcpProxy, type TcpProxyOptions } from '../../scripts/ci/tcp-proxy.js'
