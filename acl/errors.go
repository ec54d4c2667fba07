package acl

import "errors"

var (
	// ErrInvalid: a policy's rules, a name or a token request is malformed;
	// the message names the field.
	ErrInvalid = errors.New("invalid acl input")
	// ErrPermissionDenied: the caller's token (or its absence) does not
	// grant what the call needs.
	ErrPermissionDenied = errors.New("permission denied")
	// ErrTokenNotFound: the secret the caller sent matches no token, or
	// the token expired.
	ErrTokenNotFound = errors.New("acl token not found")
	// ErrDisabled: ACLs are not enabled on this node.
	ErrDisabled = errors.New("ACLs are not enabled")
)
