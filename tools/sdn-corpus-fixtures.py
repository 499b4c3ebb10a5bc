#!/usr/bin/python3
"""Turns Proxmox's SDN test configs (pve-network's test/zones/<type>/<case>/sdn_config, Perl
hash dumps) into pvefs trees as text, tests/fixtures/sdn/<type>-<case>.tree, which
tests/unit/test_sdn.c reads: the tests never need the corpus itself. Run by hand:
    tools/sdn-corpus-fixtures.py <corpus>/sdn-zones tests/fixtures/sdn
Each tree is "[<path>]" then the "key: value" lines of that config file, for
zones/<zone>, vnets/<vnet> and vnets/<vnet>/subnets/<net>-<prefix> (Proxmox's subnet id
is "<zone>-<net>-<prefix>"). Controllers have no pvefs file and are left out."""
import os
import re
import sys


def tokens(text):
    text = re.sub(r"#[^\n]*", "", text)
    for m in re.finditer(r"\s*(=>|[{}\[\],]|'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[\w.:-]+)", text):
        yield m.group(1)


def parse(toks, t=None):
    t = next(toks) if t is None else t
    if t == "{":
        out = {}
        for k in toks:
            if k == "}":
                return out
            if k == ",":
                continue
            assert next(toks) == "=>", k
            out[unquote(k)] = parse(toks)
    if t == "[":
        out = []
        for k in toks:
            if k == "]":
                return out
            if k != ",":
                out.append(parse(toks, k))
    return unquote(t)


def unquote(t):
    return t[1:-1] if t[:1] in "'\"" else t


def value(v):
    """As the config file has it: Proxmox's parsed form keeps node lists as hashes."""
    if isinstance(v, dict):
        return ",".join(sorted(v))
    return ",".join(map(str, v)) if isinstance(v, list) else str(v)


def tree(cfg):
    out = []
    zones = cfg.get("zones", {}).get("ids", {})
    for z in sorted(zones):
        out.append("[zones/%s]" % z)
        out += ["%s: %s" % (k, value(v)) for k, v in sorted(zones[z].items())]
    vnets = cfg.get("vnets", {}).get("ids", {})
    subs = cfg.get("subnets", {}).get("ids", {})
    for v in sorted(vnets):
        out.append("[vnets/%s]" % v)
        out += ["%s: %s" % (k, value(x)) for k, x in sorted(vnets[v].items())]
        for sid in sorted(subs):
            s = subs[sid]
            if s.get("vnet") != v:
                continue
            net = sid.split("-", 1)[1]  # "<zone>-<net>-<prefix>"
            out.append("[vnets/%s/subnets/%s]" % (v, net))
            out += ["%s: %s" % (k, value(x)) for k, x in sorted(s.items())]
    return "\n".join(out) + "\n"


def main(src, dst):
    os.makedirs(dst, exist_ok=True)
    for typ in sorted(os.listdir(src)):
        for case in sorted(os.listdir(os.path.join(src, typ))):
            p = os.path.join(src, typ, case, "sdn_config")
            if not os.path.exists(p):
                continue
            cfg = parse(tokens(open(p).read()))
            with open(os.path.join(dst, "%s-%s.tree" % (typ, case)), "w") as f:
                f.write("# from pve-network test/zones/%s/%s/sdn_config\n" % (typ, case))
                f.write(tree(cfg))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
