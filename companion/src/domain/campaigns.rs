//! Mass sends (invio massivo): templates and a CSV of recipients, validated as a whole
//! before anything is queued, then one message per recipient through the outbox
//! (`Operation::RunCampaign` / `ReadCampaign`).
