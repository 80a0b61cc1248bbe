"""Validate FHIR R4 JSON documents with fhir.resources (pydantic models of
every R4 resource, written by people who are not us).

Usage: fhir_validate.py FILE...  Prints one line per problem, prefixed by
the file name; prints nothing when every file is a valid R4 resource. Each
Bundle entry is validated again on its own as the resource type it names.
"""
import json
import os
import sys

import fhir.resources
from fhir.resources import construct_fhir_element

assert fhir.resources.__fhir_version__ == "4.0.1", fhir.resources.__fhir_version__

problems = []
for path in sys.argv[1:]:
    name = os.path.basename(path)
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except Exception as e:  # not JSON at all
        problems.append(f"{name}: not JSON: {e}")
        continue
    try:
        construct_fhir_element(doc.get("resourceType", "?"), doc)
    except Exception as e:
        problems.append(f"{name}: {doc.get('resourceType')}: {e}".replace("\n", " | "))
    for i, entry in enumerate(doc.get("entry") or []):
        resource = (entry or {}).get("resource") or {}
        try:
            construct_fhir_element(resource.get("resourceType", "?"), resource)
        except Exception as e:
            problems.append(
                f"{name}: entry {i} {resource.get('resourceType')}: {e}".replace("\n", " | ")
            )
for p in problems:
    print(p)
