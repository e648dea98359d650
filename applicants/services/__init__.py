"""Every way into CredScope: one application (`submit`), a CSV batch (`batch_intake`) and a
person's review of a referred decision (`review`). Each writes in one transaction with its
audit event and hands scoring to `scoring.queue` after the commit."""
