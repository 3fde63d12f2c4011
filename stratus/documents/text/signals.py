"""Signals about a document's searchable text, for the search index to follow.

Both are sent **inside** the transaction that changes the text (``DocumentText`` and the
document's ``text_status``), so a receiver can record its own durable work (an outbox row) in
that same transaction: the text and the work to index it commit together or not at all.
Receivers must not call out (network, queues) directly: use ``transaction.on_commit``.

- ``document_text_ready(sender=Document, document, org)``: the text was extracted or
  replaced; read it from ``document.text`` (``DocumentText``: ``text``, ``page_starts``) and
  chunk it with ``stratus.documents.text.chunks.chunk_text``.
- ``document_text_removed(sender=Document, document, org)``: the document has no text any more
  (a new extraction found it not searchable); drop what was indexed from it. A deleted
  document sends nothing here: follow ``post_delete`` of ``Document`` (and of ``DocumentText``).
"""

from __future__ import annotations

from django.dispatch import Signal

document_text_ready = Signal()
document_text_removed = Signal()
