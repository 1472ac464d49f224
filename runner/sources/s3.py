"""Source type ``s3``: an S3 object holding an archive; boto3 finds credentials, region and AWS_ENDPOINT_URL itself."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from runner.errors import UserError
from runner.sources.api import AppSourceType, PreparedSource, SourceContext, SourceKey
from runner.sources.archives import archive_script, repacked

PRESIGNED_EXPIRY = 15 * 60


class S3Source(AppSourceType):
    name = "s3"
    description = ("an archive in an S3 bucket, pinned to its version (or ETag); 'fetch: remote' gives the "
                   "hosts a presigned URL")
    keys = (
        SourceKey("bucket", required=True, description="the bucket"),
        SourceKey("key", required=True, description="the object's key"),
        SourceKey("region", description="the bucket's region (default: boto3's)"),
        SourceKey("endpoint_url", description="an S3-compatible store's URL (default: boto3's, AWS_ENDPOINT_URL)"),
    )
    remote_fetch = True

    def prepare(self, source: SourceContext) -> PreparedSource:
        return self._prepare(source, remote=False)

    def prepare_remote(self, source: SourceContext) -> PreparedSource:
        return self._prepare(source, remote=True)

    def _prepare(self, source: SourceContext, remote: bool) -> PreparedSource:
        bucket, key = source.options["bucket"], source.options["key"]
        region = source.options.get("region")
        description = f"s3 s3://{bucket}/{key}" + (f" ({region})" if region else "")
        client = _s3_client(source, region, source.options.get("endpoint_url"))
        with _s3_errors(source, bucket, key, client):
            head = client.head_object(Bucket=bucket, Key=key)
            version = head.get("VersionId")
            revision = version or head["ETag"].strip('"')
            pinned = {"Bucket": bucket, "Key": key, **({"VersionId": version} if version else {})}
            if remote:
                url = client.generate_presigned_url("get_object", Params=pinned, ExpiresIn=PRESIGNED_EXPIRY)
                return PreparedSource("s3", description, revision, None, None, archive_script(url), ("python3",))
            with source.scratch() as scratch:
                body = client.get_object(**pinned)["Body"]
                with scratch.open("wb") as handle:
                    while chunk := body.read(1 << 20):
                        handle.write(chunk)
                return repacked(source, description, scratch, revision, "key")


def _s3_client(source: SourceContext, region: str | None, endpoint_url: str | None = None) -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise UserError("an s3 app source needs boto3, which is not installed", source.where("type"),
                        hint="pip install 'opsrunner[s3]'") from None
    # Signature version 4 for presigned URLs too (boto3 may still presign with the deprecated version 2)
    return boto3.session.Session().client("s3", region_name=region, endpoint_url=endpoint_url,
                                          config=Config(signature_version="s3v4"))


@contextlib.contextmanager
def _s3_errors(source: SourceContext, bucket: str, key: str, client: Any) -> Iterator[None]:
    """Turns boto3's errors about credentials, buckets and keys into UserErrors."""
    import botocore.exceptions as errors

    where, name = source.where("bucket"), f"s3://{bucket}/{key}"
    try:
        yield
    except (errors.NoCredentialsError, errors.PartialCredentialsError):
        raise UserError(f"no AWS credentials to read {name}", where,
                        hint="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE") from None
    except errors.BotoCoreError as exc:
        raise UserError(f"cannot read {name}: {exc}", where) from None
    except errors.ClientError as exc:
        code = _error_code(exc)
        if code == "NoSuchBucket" or (code in ("404", "NotFound") and not _bucket_exists(client, bucket)):
            raise UserError(f"S3 bucket '{bucket}' does not exist", where,
                            hint="check 'bucket', and 'region' or AWS_ENDPOINT_URL") from None
        if code in ("404", "NotFound", "NoSuchKey"):
            raise UserError(f"no object '{key}' in S3 bucket '{bucket}'", source.where("key"),
                            hint="check 'key': was the artifact uploaded?") from None
        if code in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"):
            raise UserError(f"access to {name} denied ({code})", where,
                            hint="check the AWS credentials and that they may s3:GetObject this key") from None
        raise UserError(f"cannot read {name}: {exc}", where) from None


def _error_code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _bucket_exists(client: Any, bucket: str) -> bool:
    """After a bare 404 from head_object: is it the bucket or the key that is missing?"""
    import botocore.exceptions as errors

    try:
        client.head_bucket(Bucket=bucket)
    except errors.ClientError as exc:
        return _error_code(exc) not in ("404", "NoSuchBucket", "NotFound")
    return True
