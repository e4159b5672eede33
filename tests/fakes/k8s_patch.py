"""How the fake kube-apiserver (k8s_fake.py) applies a PATCH body, for each content type the real
one accepts (/work/shared/reference/kubernetes.md §2):

  application/merge-patch+json            RFC 7386: objects merge, lists are replaced whole,
                                          null removes the key
  application/strategic-merge-patch+json  built-in kinds only: as merge-patch, except that a list
                                          with a patch merge key (containers by name, Service
                                          ports by port...) merges item by item, a list with the
                                          merge strategy and no key (finalizers) is a union,
                                          and the $patch / $retainKeys / $setElementOrder /
                                          $deleteFromPrimitiveList directives apply
  application/json-patch+json             RFC 6902 operations (add, remove, replace, test,
                                          move, copy) on JSON pointers

The merge keys are those of the Go types of k8s.io/api for the kinds the fake serves (the
`patchMergeKey` struct tags); a list not named here is atomic, as it is for those types.
Only the Python standard library is used."""
import copy

MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"

POD = ("spec", "template", "spec")
# Path of dict keys from the object's root (list items add no key) -> the list's merge key.
MERGE_KEYS = {
    POD + ("containers",): "name",
    POD + ("initContainers",): "name",
    POD + ("ephemeralContainers",): "name",
    POD + ("volumes",): "name",
    POD + ("imagePullSecrets",): "name",
    POD + ("hostAliases",): "ip",
    POD + ("containers", "env"): "name",
    POD + ("containers", "ports"): "containerPort",
    POD + ("containers", "volumeMounts"): "mountPath",
    POD + ("containers", "volumeDevices"): "devicePath",
    POD + ("initContainers", "env"): "name",
    POD + ("initContainers", "ports"): "containerPort",
    POD + ("initContainers", "volumeMounts"): "mountPath",
    ("spec", "ports"): "port",  # Service
    ("metadata", "ownerReferences"): "uid",
    ("status", "conditions"): "type",
}
# Lists of scalars whose strategy is "merge": a patch adds its items (a union).
UNION_LISTS = {("metadata", "finalizers")}


class PatchError(Exception):
    """A patch that cannot apply: (HTTP status, reason, message) as the apiserver says it."""

    def __init__(self, code, reason, message):
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message


def merge_patch(target, patch):
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    out = dict(target)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def _strip(v):
    """A patch value as stored: directives removed."""
    if isinstance(v, dict):
        return {k: _strip(x) for k, x in v.items() if not k.startswith("$") and x is not None}
    if isinstance(v, list):
        return [_strip(x) for x in v if not (isinstance(x, dict) and x.get("$patch") == "delete")]
    return v


def _merge_list(cur, items, key, path):
    out = [copy.deepcopy(x) for x in (cur or [])]
    for item in items:
        if not isinstance(item, dict) or key not in item:
            raise PatchError(422, "Invalid", "map: %r does not contain declared merge key: %s"
                             % (item, key))
        idx = next((i for i, x in enumerate(out)
                    if isinstance(x, dict) and x.get(key) == item[key]), None)
        directive = item.get("$patch")
        if directive == "delete":
            if idx is not None:
                out.pop(idx)
        elif directive == "replace":
            new = _strip(item)
            if idx is None:
                out.append(new)
            else:
                out[idx] = new
        elif idx is None:
            out.append(_strip(item))
        else:
            out[idx] = strategic_merge(out[idx], item, path)
    return out


def strategic_merge(target, patch, path=()):
    """Kubernetes' strategic merge patch for the kinds of MERGE_KEYS."""
    if not isinstance(patch, dict):
        return _strip(patch)
    if not isinstance(target, dict):
        target = {}
    patch = dict(patch)
    directive = patch.pop("$patch", None)
    if directive == "replace":
        return _strip(patch)
    if directive == "delete":
        return {}
    retain = patch.pop("$retainKeys", None)
    out = dict(target)
    for k, v in patch.items():
        if k.startswith("$setElementOrder/"):
            continue  # only the order of the merged list, which this fake keeps as it comes
        if k.startswith("$deleteFromPrimitiveList/"):
            name = k.split("/", 1)[1]
            out[name] = [x for x in out.get(name) or [] if x not in (v or [])]
            continue
        sub = path + (k,)
        if v is None:
            out.pop(k, None)
        elif isinstance(v, list) and sub in MERGE_KEYS:
            out[k] = _merge_list(out.get(k), v, MERGE_KEYS[sub], sub)
        elif isinstance(v, list) and sub in UNION_LISTS:
            have = list(out.get(k) or [])
            out[k] = have + [x for x in v if x not in have]
        elif isinstance(v, dict):
            out[k] = strategic_merge(out.get(k), v, sub)
        else:
            out[k] = _strip(v)
    if retain is not None:
        out = {k: v for k, v in out.items() if k in retain}
    return out


def _pointer(doc, ptr):
    """(parent, last key) for an RFC 6901 pointer."""
    if ptr == "" or not ptr.startswith("/"):
        raise PatchError(422, "Invalid", "the server rejected our request due to an error in "
                         "our request: invalid JSON pointer %r" % ptr)
    parts = [p.replace("~1", "/").replace("~0", "~") for p in ptr[1:].split("/")]
    cur = doc
    for p in parts[:-1]:
        cur = cur[int(p)] if isinstance(cur, list) else cur[p]
    return cur, parts[-1]


def _get(doc, ptr):
    parent, key = _pointer(doc, ptr)
    return parent[int(key)] if isinstance(parent, list) else parent[key]


def _add(doc, ptr, value):
    parent, key = _pointer(doc, ptr)
    if isinstance(parent, list):
        parent.insert(len(parent) if key == "-" else int(key), value)
    else:
        parent[key] = value


def _remove(doc, ptr):
    parent, key = _pointer(doc, ptr)
    if isinstance(parent, list):
        return parent.pop(int(key))
    return parent.pop(key)


def json_patch(target, ops):
    """RFC 6902."""
    doc = copy.deepcopy(target)
    if not isinstance(ops, list):
        raise PatchError(400, "BadRequest", "json: cannot unmarshal object into Go value of type "
                         "jsonpatch.Patch")
    try:
        for op in ops:
            kind, path = op.get("op"), op.get("path", "")
            if kind == "add":
                _add(doc, path, copy.deepcopy(op["value"]))
            elif kind == "remove":
                _remove(doc, path)
            elif kind == "replace":
                _get(doc, path)
                parent, key = _pointer(doc, path)
                parent[int(key) if isinstance(parent, list) else key] = copy.deepcopy(op["value"])
            elif kind == "test":
                if _get(doc, path) != op.get("value"):
                    raise PatchError(422, "Invalid", "the server rejected our request due to an "
                                     "error in our request: testing value %s failed" % path)
            elif kind in ("move", "copy"):
                value = _get(doc, op["from"])
                if kind == "move":
                    _remove(doc, op["from"])
                _add(doc, path, copy.deepcopy(value))
            else:
                raise PatchError(422, "Invalid", "Unexpected kind: %s" % kind)
    except (KeyError, IndexError, ValueError, TypeError) as e:
        raise PatchError(422, "Invalid", "the server rejected our request due to an error in "
                         "our request: %s" % e)
    return doc


def apply(ctype, target, patch, crd):
    """The patched object, or PatchError. crd: a custom resource (no strategic merge)."""
    accepted = [JSON_PATCH, MERGE, APPLY]
    if not crd:
        accepted.insert(2, STRATEGIC)
    if ctype not in accepted:
        raise PatchError(415, "UnsupportedMediaType",
                         "the body of the request was in an unknown format - accepted media "
                         "types include: " + ", ".join(accepted))
    if ctype == APPLY:
        raise PatchError(415, "UnsupportedMediaType",
                         "this fake does not implement server-side apply (%s)" % ctype)
    if ctype == JSON_PATCH:
        return json_patch(target, patch)
    if not isinstance(patch, dict):
        raise PatchError(400, "BadRequest", "json: cannot unmarshal array into Go value of type "
                         "map[string]interface {}")
    if ctype == MERGE:
        return merge_patch(target, patch)
    return strategic_merge(target, patch)
