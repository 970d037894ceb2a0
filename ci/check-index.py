#!/usr/bin/env python3
"""After every matrix job has pushed: does each image index list every arch the matrix pushed to it?

    python3 ci/check-index.py REPO MATRIX_JSON [SKOPEO_OPTION...]

REPO is the --push repository (docker://HOST/REPO or HOST/REPO). MATRIX_JSON is the file --target=Matrix writes
(<out>/matrix.json, or "-" to read the matrix= line's JSON from stdin); each entry names its index (index_tag) and
platform architecture (oci_arch). Extra options go to `skopeo inspect --raw` (--tls-verify=false, --creds=USER:PASS).
Arches listed beyond the matrix (pushed by another run) are fine. Exit 0 when every index lists its arches, 1 when
one is missing or unreadable, 2 on bad usage.
"""
import json
import subprocess
import sys

INDEX_TYPES = {"application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json"}


def listed_arches(reference, skopeo_options):
    """The platform architectures the index at `reference` lists; None (with the reason printed) when it cannot be read."""
    run = subprocess.run(["skopeo", "inspect", "--raw", *skopeo_options, reference], capture_output=True, text=True)
    if run.returncode != 0:
        print(f"{reference}: skopeo inspect failed: {run.stderr.strip()}")
        return None
    document = json.loads(run.stdout)
    if document.get("mediaType") not in INDEX_TYPES:
        print(f"{reference}: not an image index (mediaType {document.get('mediaType')})")
        return None
    return {m.get("platform", {}).get("architecture") for m in document.get("manifests", [])}


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    repository = argv[1].removeprefix("docker://")
    with (sys.stdin if argv[2] == "-" else open(argv[2])) as source:
        entries = json.load(source)["include"]
    expected = {}
    for entry in entries:
        expected.setdefault(entry["index_tag"], set()).add(entry["oci_arch"])

    complete = True
    for tag, arches in sorted(expected.items()):
        reference = f"docker://{repository}:{tag}"
        listed = listed_arches(reference, argv[3:])
        if listed is None:
            complete = False
            continue
        missing = sorted(arches - listed)
        print(f"{reference}: lists {', '.join(sorted(a for a in listed if a))}" + (f"; MISSING {', '.join(missing)}" if missing else ""))
        complete = complete and not missing
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
