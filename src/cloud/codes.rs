//! The API error codes havip acts on by name, each written once. Every other code is classified
//! by its family, in [`super::classify_code`].

/// A resource (HAVIP, EIP, ENI, …) does not exist.
pub(crate) const RESOURCE_NOT_FOUND: &str = "ResourceNotFound";
/// `AssociateHaVipInstance`: the instance or ENI is already in the drift range.
pub(crate) const DUPLICATED_HAVIP_ASSOCIATIONS: &str =
    "InvalidParameterValue.DuplicatedHaVipAssociations";
/// `HaVipAssociateAddressIp`: the HAVIP already has an EIP bound.
pub(crate) const HAVIP_ALREADY_BOUND: &str = "UnsupportedOperation.BindEIP";
/// `HaVipDisassociateAddressIp`: the HAVIP has no EIP bound.
pub(crate) const HAVIP_NOT_BOUND: &str = "UnsupportedOperation.UnbindEIP";
/// `DisassociateAddress`: the EIP is not bound (nothing to unbind).
pub(crate) const ADDRESS_STATUS_NOT_PERMIT: &str = "InvalidAddressIdStatus.NotPermit";
/// `AuthFailure.SignatureExpire`: the request's timestamp is outside the 5-minute window.
pub(crate) const SIGNATURE_EXPIRE: &str = "AuthFailure.SignatureExpire";
/// `AuthFailure.TokenFailure`: temporary credentials expired.
pub(crate) const TOKEN_FAILURE: &str = "AuthFailure.TokenFailure";
