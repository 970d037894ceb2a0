#!/usr/bin/env python3
"""The GitLab child pipeline of a build matrix: one job per entry of the matrix.json --target=Matrix writes.

    python3 ci/gitlab-child-pipeline.py MATRIX_JSON > kernels.yml

Each job is named after its entry and extends .kiln-kernel (ci/gitlab-kernel.yml) with the entry's ARGS (Kiln's
arguments) and CACHE_KEY. The output is JSON, which GitLab reads as YAML.
"""
import json
import sys


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    with open(argv[1]) as source:
        entries = json.load(source)["include"]
    pipeline = {"include": [{"local": "ci/gitlab-kernel.yml"}], "stages": ["test"]}
    for entry in entries:
        pipeline[entry["name"]] = {
            "extends": ".kiln-kernel",
            "variables": {"ARGS": entry["args"], "CACHE_KEY": entry["cache_key"]},
        }
    json.dump(pipeline, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
