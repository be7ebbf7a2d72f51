//! tcsim: a simulator of the TencentCloud VPC API and the CVM metadata service.
