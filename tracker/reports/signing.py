"""PAdES signatures with pyHanko, made with the organisation's key (tracker/reports/keys.py).

The signature is invisible: the cover page prints who signed, when and the statement, and
an invisible field needs no stamp font (pyHanko's default stamp uses Courier without
embedding it, which PDF/A forbids). It is a certification signature that allows no changes,
so viewers flag any later edit, and it is the last write to the file: anything that rewrites
the PDF (qpdf, linearising) happens before, never after.
"""

import asyncio
import io
from concurrent.futures import ThreadPoolExecutor

from tracker.reports import keys

FIELD_NAME = "AuditSignOff"


def sign_pdf(pdf: bytes, *, signer_name: str, reason: str, location: str) -> bytes:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    signer = keys.load_signer()
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME, name=signer_name, reason=reason[:1000], location=location,
        subfilter=fields.SigSeedSubFilter.PADES, md_algorithm="sha256", certify=True,
        docmdp_permissions=fields.MDPPerm.NO_CHANGES,
    )
    out = io.BytesIO()
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    outside_event_loop(signers.PdfSigner(meta, signer).sign_pdf, writer, output=out)
    return out.getvalue()


def outside_event_loop(fn, *args, **kwargs):
    """pyHanko's synchronous API calls asyncio.run(), which refuses to run inside a thread
    that already has an event loop (an async server, Playwright's sync API): then the call
    runs in a short-lived thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return fn(*args, **kwargs)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn, *args, **kwargs).result()
