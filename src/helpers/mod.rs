//! Processes vpcctl starts, records and stops: apps (and their PID
//! namespace's init), a VPC's resolver (dnsmasq), the flow-log collector
//! (ulogd), and the built-in HTTP server. They do what a change says.

pub mod apps;
pub mod flowlogs;
pub mod httpd;
pub mod resolver;
pub mod wireguard;
