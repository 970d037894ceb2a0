#!/usr/bin/env python3
"""Kiln benchmarks: each figure is Kiln against the raw tool on the same work in the same run.

Usage: python3 bench/run.py [--runs N] [--skip-cold] [--json FILE] [--cache-dir DIR]

Measures (medians of --runs where a run is short):
  startup      ./build.sh --help, and the bootstrapper's share of it (vs running the built host directly)
  boot         BootTest task time (default machine: q35, 2 vCPUs, 2 GiB, devices attached) vs plain qemu-system-x86_64 on
               the same bzImage, initramfs and command line, with the host side of its devices (the guestfwd port,
               virtiofsd) provided the same way; runs interleaved
  cache-hit    whole `./build.sh --target=BootTest` with a cached kernel vs the plain boot (overhead in s)
  incremental  BuildKernel after touching one source file vs raw `make` after the same touch
  cold         BuildKernel from an empty build dir and ccache vs raw `make -j<n>` on the same tree and .config
  packaging    PackageStage1's packaging step vs `tar | xz -T0` of the same artifacts (time and size)
Writes a table to stdout and JSON (default bench/results.json).
"""
import argparse, json, os, re, shlex, shutil, socket, statistics, subprocess, sys, tempfile, threading, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KERNEL = "6.1"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def run(cmd, env=None, cwd=None, check=True, quiet=True):
    """Runs a command, returns (seconds, output). Output is kept for parsing, not shown."""
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          shell=isinstance(cmd, str))
    elapsed = time.monotonic() - start
    out = ANSI.sub("", proc.stdout)
    if check and proc.returncode != 0:
        sys.exit(f"benchmark step failed ({proc.returncode}): {cmd}\n{out[-3000:]}")
    return elapsed, out


def kiln(*args, cache_dir, out_dir, check=True):
    cmd = [str(ROOT / "build.sh"), *args, f"--kernel={KERNEL}", f"--cache-dir={cache_dir}", f"--out={out_dir}"]
    return run(cmd, check=check)


def task_seconds(output, task):
    """Reads a task's duration from Cake's report table: '  BootTest   00:00:02.1465852   Succeeded'."""
    m = re.search(rf"^\s*{task}\s+(\d+):(\d+):(\d+\.\d+)\s+Succeeded", output, re.M)
    if not m:
        sys.exit(f"no duration for task {task} in the output")
    h, mnt, s = m.groups()
    return int(h) * 3600 + int(mnt) * 60 + float(s)


def median(values):
    return statistics.median(values)


def bench_startup(runs):
    run([str(ROOT / "build.sh"), "--help"])  # build the host once, outside the measurement
    wrapper = [run([str(ROOT / "build.sh"), "--help"])[0] for _ in range(runs)]
    direct = [run(["dotnet", str(ROOT / ".kiln-host" / "Build.dll"), "--help"])[0] for _ in range(runs)]
    return {"kiln_s": median(wrapper), "raw_s": median(direct), "ratio": median(wrapper) / median(direct),
            "what": "./build.sh --help vs dotnet .kiln-host/Build.dll --help"}


def serve_token(server):
    """What Kiln's port does for the guest's net check: read one HTTP request, answer with a token."""
    conn, _ = server.accept()
    with conn:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(1024)
            if not chunk:
                return
            data += chunk
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 6\r\n\r\ntoken\n")
        while conn.recv(1024):
            pass


def raw_boot(qemu_cmd, devices_dir):
    """Kiln's QEMU command line run by hand, with the host side its devices need started the same way Kiln does."""
    start = time.monotonic()
    cmd, server, virtiofsd = qemu_cmd, None, None
    forward = re.search(r"(guestfwd=tcp:[\d.]+:\d+-tcp:127\.0\.0\.1:)(\d+)", cmd)
    if forward:
        server = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=serve_token, args=(server,), daemon=True).start()
        cmd = cmd.replace(forward.group(0), forward.group(1) + str(server.getsockname()[1]))
    share = re.search(r"socket,id=kilnfs,path=([^ ',]+)", cmd)
    if share:
        sock = os.path.join(tempfile.gettempdir(), f"kiln-bench-{os.getpid()}.sock")
        cmd = cmd.replace(share.group(1), sock)
        virtiofsd = subprocess.Popen(["/usr/lib/qemu/virtiofsd", f"--socket-path={sock}", "-o", f"source={devices_dir}/share-virtio-fs",
                                      "-o", "cache=none", "-o", "sandbox=chroot"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while not os.path.exists(sock):
            time.sleep(0.02)
    try:
        run(cmd)
    finally:
        if server:
            server.close()
        if virtiofsd:
            virtiofsd.wait(timeout=10)
    return time.monotonic() - start


def bench_boot(runs, cache_dir, out_dir):
    """Interleaved: each Kiln run is followed by the raw run of the command line it printed, so load drifts hit both."""
    totals, tasks, plain = [], [], []
    for _ in range(runs):
        seconds, out = kiln("--target=BootTest", "--verbosity=verbose", cache_dir=cache_dir, out_dir=out_dir)
        if "Cache hit" not in out:
            sys.exit("BootTest did not use the cached kernel; run once without measuring first")
        totals.append(seconds)
        tasks.append(task_seconds(out, "BootTest"))
        qemu_cmd = next(l.split("$ ", 1)[1] for l in out.splitlines() if re.search(r"\$ qemu-system-.* -kernel ", l))
        plain.append(raw_boot(qemu_cmd, Path(out_dir) / "boot" / "devices"))
    return (
        {"kiln_s": median(tasks), "raw_s": median(plain), "ratio": median(tasks) / median(plain),
         "what": "BootTest task, default machine (initramfs + devices + QEMU + verdict) vs the same qemu command line and device host side",
         "target": "<= 1.10"},
        {"kiln_s": median(totals), "raw_s": median(plain), "overhead_s": median(totals) - median(plain),
         "what": "./build.sh --target=BootTest (cache hit, whole pipeline) vs the plain boot", "target": "overhead < 5 s"},
    )


def patched_tree(cache_dir):
    trees = sorted((Path(cache_dir) / "trees").glob("linux-*"), key=lambda p: p.stat().st_mtime)
    if not trees:
        sys.exit("no patched tree in the cache")
    return trees[-1]


def raw_make(tree, build_dir, jobs):
    return run(["make", "-C", str(tree), f"O={build_dir}", "ARCH=x86_64", f"-j{jobs}", "LOCALVERSION=-1", "bzImage"])[0]


def bench_cold(cache_dir, jobs, work):
    """A fresh cache dir that shares only the extracted source: empty build dir, empty ccache."""
    cold_cache = work / "cold-cache"
    (cold_cache / "sources").mkdir(parents=True)
    for src in (Path(cache_dir) / "sources").iterdir():
        (cold_cache / "sources" / src.name).symlink_to(src)
    seconds, out = kiln("--target=BuildKernel", "--no-cache", f"--jobs={jobs}", cache_dir=cold_cache, out_dir=work / "cold-out")
    kiln_build = task_seconds(out, "BuildKernel")
    tree = patched_tree(cold_cache)
    raw_dir = work / "raw-build"
    raw_dir.mkdir()
    shutil.copy(work / "cold-out" / "config", raw_dir / ".config")
    run(["make", "-C", str(tree), f"O={raw_dir}", "ARCH=x86_64", "olddefconfig"])
    raw = raw_make(tree, raw_dir, jobs)
    return {"kiln_s": kiln_build, "raw_s": raw, "ratio": kiln_build / raw, "pipeline_s": seconds,
            "what": f"BuildKernel task, empty build dir and ccache, vs make -j{jobs} bzImage (no ccache)", "target": "<= 1.05"}, tree, raw_dir, cold_cache


def bench_incremental(tree, raw_dir, cold_cache, jobs, work):
    touched = Path(tree) / "kernel" / "sys.c"
    os.utime(touched)
    seconds, out = kiln("--target=BuildKernel", "--no-cache", f"--jobs={jobs}", cache_dir=cold_cache, out_dir=work / "incr-out")
    os.utime(touched)
    raw = raw_make(tree, raw_dir, jobs)
    return {"kiln_s": seconds, "raw_s": raw, "ratio": seconds / raw,
            "what": "./build.sh --target=BuildKernel after touching kernel/sys.c vs raw make after the same touch", "target": "<= 1.2"}


def bench_packaging(runs, cache_dir, out_dir, work):
    times, sizes = [], {}
    for _ in range(runs):
        seconds, out = kiln("--target=PackageStage1", cache_dir=cache_dir, out_dir=out_dir)
        times.append(task_seconds(out, "PackageStage1"))
    release = next((Path(out_dir) / "package").rglob("kiln-linux-*.tar.*"))
    sizes["kiln_bytes"] = release.stat().st_size
    # The same artifacts the release tarball holds: every file of the build, as metadata.json lists them.
    files = sorted(json.loads((Path(out_dir) / "metadata.json").read_text())["files"]) + ["metadata.json"]
    tarball = work / "raw.tar.xz"
    raw = [run(f"tar -C {shlex.quote(str(out_dir))} -cf - {' '.join(files)} | xz -T0 > {shlex.quote(str(tarball))}")[0] for _ in range(runs)]
    sizes["raw_bytes"] = tarball.stat().st_size
    return {"kiln_s": median(times), "raw_s": median(raw), "ratio": median(times) / median(raw), **sizes,
            "what": "PackageStage1 task (ACI, Kata layout, OCI, release tarball, sums) vs tar | xz -T0 of the artifacts"}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    parser.add_argument("--skip-cold", action="store_true", help="skip the cold and incremental builds (about 12 minutes on 2 cores)")
    parser.add_argument("--cache-dir", default=os.environ.get("KILN_CACHE_DIR", str(Path.home() / ".cache" / "kiln")))
    parser.add_argument("--json", default=str(ROOT / "bench" / "results.json"))
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="kiln-bench-"))
    out_dir = work / "out"
    results = {}
    try:
        print("warming up: cached kernel and host", file=sys.stderr)
        kiln("--target=BootTest", cache_dir=args.cache_dir, out_dir=out_dir)
        results["startup"] = bench_startup(args.runs)
        results["boot"], results["cache-hit"] = bench_boot(args.runs, args.cache_dir, out_dir)
        results["packaging"] = bench_packaging(args.runs, args.cache_dir, out_dir, work)
        if not args.skip_cold:
            print("cold builds: Kiln, then raw make (several minutes each)", file=sys.stderr)
            results["cold"], tree, raw_dir, cold_cache = bench_cold(args.cache_dir, args.jobs, work)
            results["incremental"] = bench_incremental(tree, raw_dir, cold_cache, args.jobs, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"{'benchmark':<12} {'kiln':>9} {'raw':>9} {'ratio':>7}  target / what")
    for name, r in results.items():
        extra = f"overhead {r['overhead_s']:.2f} s" if "overhead_s" in r else f"{r.get('ratio', 0):.2f}"
        print(f"{name:<12} {r['kiln_s']:>8.2f}s {r['raw_s']:>8.2f}s {extra:>7}  {r.get('target', '')} {r['what']}")
        if "kiln_bytes" in r:
            print(f"{'':<12} size: kiln {r['kiln_bytes'] / 1e6:.1f} MB, tar|xz {r['raw_bytes'] / 1e6:.1f} MB")
    results["meta"] = {"runs": args.runs, "jobs": args.jobs, "cpus": os.cpu_count(), "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    print(f"JSON: {args.json}")


if __name__ == "__main__":
    main()
