"""Routes of certificates 电子证照核验: is this certificate valid, revoked, expired or tampered?

The certificate is named in the body, not the URL: its number is personal data and URLs end up
in logs. "Not found" is a verdict (200), not a 404: the question was answered.
"""

from fastapi import APIRouter

from api.deps import CurrentKeyring, CurrentUser, ReadDb, requires
from authz.permissions import CertificateVerify
from catalog_schema.certificate import service as certificate_service
from catalog_schema.certificate.schemas import CertificateQuery, CertificateVerdict

router = APIRouter(prefix="/certificates", tags=["certificates 电子证照核验"])


@router.post(
    "/verify",
    response_model=CertificateVerdict,
    dependencies=[requires(CertificateVerify)],
    summary="核验电子证照 / verify a certificate's signature, status and expiry",
)
def verify_certificate(
    db: ReadDb, keyring: CurrentKeyring, user: CurrentUser, query: CertificateQuery
) -> CertificateVerdict:
    return certificate_service.verify(
        db=db,
        keyring=keyring,
        type_code=query.type_code,
        number=query.number,
        today=certificate_service.today(),
        operator=user.username,
    )
