/** Delivery nodes as a cluster (§9): the cluster link, announcements, IP ownership and forwarding. */

export { ClusterLink, type ClusterLinkConfig } from './link.js';
export { Announcer, ANNOUNCE_SECONDS, ANNOUNCE_TTL_SECONDS } from './announce.js';
export { Membership, DOWN_MEMORY_MS, type Peer, type PeerState } from './membership.js';
export { parseClusterMessage, type Announcement, type ClusterMessage } from './messages.js';
export { ownedIps, nodeQueue, hopsOf, HOPS_HEADER } from './ownership.js';
export { Placement, ForwardTo, AwaitOwner, OWNER_WAIT_SECONDS } from './placement.js';
export { ClusterNode, type Consuming } from './node.js';
export { listCluster, ClusterUnreachable } from './list.js';
