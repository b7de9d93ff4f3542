-- 0009: signed receipts — a partner's receipts are evidence. Each answer
-- to a batch is signed once by the partner's node (a Merkle root over its
-- receipts); the sender keeps the signature and signer chain once per
-- answer, and with each outbox entry the receipt bytes as signed and their
-- Merkle path, so any receipt stays provable on its own, offline.

CREATE TABLE receipt_batches (
    id              INTEGER NOT NULL PRIMARY KEY,
    partner         TEXT    NOT NULL, -- the agency whose node signed
    merkle_root     BLOB    NOT NULL,
    highest_applied INTEGER NOT NULL, -- signed with the root
    signature       BLOB    NOT NULL,
    signer_chain    BLOB    NOT NULL, -- DER certificates, each preceded by its 4-byte length
    receive_time    INTEGER NOT NULL
) STRICT;

CREATE TABLE outbox_receipts (
    partner          TEXT    NOT NULL,
    seq              INTEGER NOT NULL,
    receipt_batch_id INTEGER NOT NULL REFERENCES receipt_batches (id),
    receipt          BLOB    NOT NULL, -- the serialized liaison.v1.Receipt, exactly as signed
    proof            BLOB    NOT NULL, -- Merkle path from the receipt's leaf to the batch root
    PRIMARY KEY (partner, seq)
) STRICT;
