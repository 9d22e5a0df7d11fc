//! A PEC provider simulator (`pecdesk simulate`; in-process in `serve --demo` and in the
//! tests): SMTP submission with authentication on loopback, the provider's receipts in the
//! formats of PEC.md signed with a test CA, transport envelopes delivered into the
//! recipients' Maildirs, and the delays, failures and throttles real providers have.
