using Kiln.Kernel;
using System.IO.Compression;
using Kiln.Kernel.Boot;
using Kiln.Kernel.Diagnostics;
using NUnit.Framework;

namespace Kiln.Tests.Boot;

public class InitramfsBuilderTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("kiln-initramfs-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private static void RequireStaticBusybox()
    {
        Prerequisite.Require(File.Exists(InitramfsSpec.DefaultBusybox), "busybox-static is not installed");
    }

    private static List<CpioEntry> ReadImage(string path)
    {
        using var gzip = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        var cpio = new MemoryStream();
        gzip.CopyTo(cpio);
        return CpioReader.Read(cpio.ToArray());
    }

    [Test]
    public void Builds_an_image_with_busybox_devices_tests_and_the_nonce_only_in_a_file_init_deletes()
    {
        RequireStaticBusybox();
        var first = Path.Combine(_dir, "check net.sh");
        var second = Path.Combine(_dir, "sub", "check net.sh");
        File.WriteAllText(first, "echo one\n");
        Directory.CreateDirectory(Path.GetDirectoryName(second)!);
        File.WriteAllText(second, "echo two\n");
        var output = Path.Combine(_dir, "out", "initramfs.cpio.gz");

        var tests = new InitramfsBuilder(new RecordingLog()).Build(
            new InitramfsSpec { Arch = Arch.X86_64, Nonce = "feedfacecafebeef", TestScripts = new[] { first, second } }, output);

        Assert.That(tests.Select(t => t.Name), Is.EqualTo(new[] { "check_net.sh", "check_net.sh-2" }));
        var entries = ReadImage(output).ToDictionary(e => e.Name);
        Assert.That((entries["dev/console"].RdevMajor, entries["dev/console"].RdevMinor), Is.EqualTo((5u, 1u)));
        Assert.That((entries["dev/ttyS1"].RdevMajor, entries["dev/ttyS1"].RdevMinor), Is.EqualTo((4u, 65u)));
        Assert.That(entries["bin/busybox"].Data.Length, Is.EqualTo(new FileInfo(InitramfsSpec.DefaultBusybox).Length));
        Assert.That(entries["kiln/tests/check_net.sh-2"].Text, Is.EqualTo("echo two\n"));
        var init = entries["init"];
        Assert.That(init.Permissions, Is.EqualTo(0x1EDu));
        Assert.That(init.Text, Does.StartWith("#!/bin/sh\n"));
        Assert.That(init.Text, Does.Contain("exec 3>/dev/ttyS1").And.Contain("reboot -f"));
        // Test scripts can read /init: the nonce is only in a file init reads and deletes, and the report device's
        // node goes once init holds it open.
        Assert.That(init.Text, Does.Not.Contain("feedfacecafebeef"));
        Assert.That(entries[InitramfsBuilder.NonceFile].Text, Is.EqualTo("feedfacecafebeef\n"));
        Assert.That(entries[InitramfsBuilder.NonceFile].Permissions, Is.EqualTo(0x100u));
        Assert.That(init.Text, Does.Contain("read -r NONCE < /kiln/nonce\nrm -f /kiln/nonce\n").And.Contain("rm -f /dev/ttyS1\n"));
        Assert.That(init.Text, Does.Not.Contain("export NONCE"));
        Assert.That(init.Text.IndexOf("rm -f /dev/ttyS1"), Is.GreaterThan(init.Text.IndexOf("exec 3>/dev/ttyS1")));
        Assert.That(init.Text.IndexOf("run_test check_net.sh "), Is.LessThan(init.Text.IndexOf("run_test check_net.sh-2 ")));
        Assert.That(Directory.GetFiles(Path.GetDirectoryName(output)!), Is.EqualTo(new[] { output }), "no temp file left");
    }

    [Test]
    public void The_same_inputs_give_the_same_bytes()
    {
        RequireStaticBusybox();
        var spec = new InitramfsSpec { Arch = Arch.X86_64, Nonce = "0000000000000001" };
        var builder = new InitramfsBuilder(new RecordingLog());
        builder.Build(spec, Path.Combine(_dir, "a.gz"));
        builder.Build(spec, Path.Combine(_dir, "b.gz"));
        Assert.That(File.ReadAllBytes(Path.Combine(_dir, "a.gz")), Is.EqualTo(File.ReadAllBytes(Path.Combine(_dir, "b.gz"))));
    }

    [Test]
    public void The_init_with_every_device_check_is_valid_busybox_sh()
    {
        RequireStaticBusybox();
        var script = Path.Combine(_dir, "init");
        // vsock is never attached yet (it has no guest script).
        var devices = GuestDevice.All.Where(d => d != GuestDevice.Vsock).ToList();
        var spec = new InitramfsSpec
        {
            Arch = Arch.X86_64, Nonce = "n", Devices = devices, TransportOptions = ["CONFIG_VIRTIO_PCI"], HostRoot = true, WritableDirectory = "/srv/kiln's state",
        };
        File.WriteAllText(script, InitramfsBuilder.InitScript(spec, [new GuestTest("t.sh", "/t.sh")]));
        var check = new Kiln.Kernel.Processes.Command(InitramfsSpec.DefaultBusybox, "sh", "-n", script) { AcceptedExitCodes = [0, 1, 2] }.Run(new RecordingLog());

        Assert.That(check.ExitCode, Is.Zero, check.StandardError);
        var init = File.ReadAllText(script);
        foreach (var name in devices.Select(d => d.Name).Concat(["cgroup2", "namespaces"]))
            Assert.That(init, Does.Contain($"ck {name} "), name);
        Assert.That(init, Does.Contain("if m=$(missing CONFIG_VIRTIO_NET CONFIG_INET CONFIG_VIRTIO_PCI); then"));
        Assert.That(init, Does.Contain("elif mount_root /host; then\n  export KILN_HOST=/host"), "the host's / for the test scripts");
        Assert.That(init.IndexOf("mount_root /host", StringComparison.Ordinal), Is.LessThan(init.IndexOf("run_test t.sh", StringComparison.Ordinal)));
        Assert.That(init, Does.Contain("""elif share kilncwd "$KILN_HOST"'/srv/kiln'\''s state' ""; then""" + "\n" + """  export KILN_RWDIR="$KILN_HOST"'/srv/kiln'\''s state'"""),
            "--rwdir at its own path under the host's /, quoted for sh");
    }

    [Test]
    public void The_arm64_init_reports_on_hvc0()
    {
        var init = InitramfsBuilder.InitScript(new InitramfsSpec { Arch = Arch.Arm64, Nonce = "n" }, Array.Empty<GuestTest>());
        Assert.That(init, Does.Contain("exec 3>/dev/hvc0"));
    }

    [Test]
    public void A_missing_busybox_names_the_debian_package()
    {
        var e = Assert.Throws<KilnException>(() => InitramfsBuilder.CheckBusybox(Path.Combine(_dir, "busybox"), Arch.X86_64));
        Assert.That(e!.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(e.Message, Does.Contain("busybox-static"));
    }

    [Test]
    public void A_dynamic_busybox_is_rejected()
    {
        // /bin/sh on Debian is dash, a dynamically linked x86_64 ELF.
        var dynamic = new FileInfo("/bin/sh").ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? "/bin/sh";
        var e = Assert.Throws<KilnException>(() => InitramfsBuilder.CheckBusybox(dynamic, Arch.X86_64));
        Assert.That(e!.Message, Does.Contain("dynamically linked").And.Contain("busybox-static"));
    }

    [Test]
    public void A_busybox_for_another_arch_is_rejected()
    {
        RequireStaticBusybox();
        var e = Assert.Throws<KilnException>(() => InitramfsBuilder.CheckBusybox(InitramfsSpec.DefaultBusybox, Arch.Arm64));
        Assert.That(e!.Message, Does.Contain("not built for arm64"));
    }

    /// <summary>A 64-bit ELF header and one program header (PT_LOAD or PT_INTERP) in the given byte order.</summary>
    private string Elf(bool bigEndian, ushort machine, bool interpreter)
    {
        var bytes = new byte[64 + 56];
        bytes[0] = 0x7F; bytes[1] = (byte)'E'; bytes[2] = (byte)'L'; bytes[3] = (byte)'F';
        bytes[4] = 2; bytes[5] = (byte)(bigEndian ? 2 : 1);
        void U16(int at, ushort v) { if (bigEndian) System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(at), v); else System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(at), v); }
        void U32(int at, uint v) { if (bigEndian) System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(at), v); else System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(at), v); }
        U16(18, machine);
        U32(32 + (bigEndian ? 4 : 0), 64); // e_phoff, a 64-bit field
        U16(54, 56);
        U16(56, 1);
        U32(64, interpreter ? 3u : 1u);
        var path = Path.Combine(_dir, $"elf-{bigEndian}-{machine}-{interpreter}");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Test]
    public void A_big_endian_s390x_busybox_is_read_in_its_own_byte_order()
    {
        Assert.DoesNotThrow(() => InitramfsBuilder.CheckBusybox(Elf(bigEndian: true, machine: 22, interpreter: false), Arch.S390x));
        var dynamic = Assert.Throws<KilnException>(() => InitramfsBuilder.CheckBusybox(Elf(bigEndian: true, machine: 22, interpreter: true), Arch.S390x))!;
        Assert.That(dynamic.Message, Does.Contain("dynamically linked"));
        // Read as little-endian, machine 22 would be 0x1600 and the check would name the wrong arch.
        var wrong = Assert.Throws<KilnException>(() => InitramfsBuilder.CheckBusybox(Elf(bigEndian: true, machine: 22, interpreter: false), Arch.Ppc64le))!;
        Assert.That(wrong.Message, Does.Contain("not built for ppc64le (ELF machine 22)"));
        Assert.DoesNotThrow(() => InitramfsBuilder.CheckBusybox(Elf(bigEndian: false, machine: 243, interpreter: false), Arch.Riscv64));
    }

    [Test]
    public void A_missing_test_script_is_bad_input()
    {
        RequireStaticBusybox();
        var e = Assert.Throws<KilnException>(() => new InitramfsBuilder(new RecordingLog()).Build(
            new InitramfsSpec { Arch = Arch.X86_64, Nonce = "n", TestScripts = new[] { Path.Combine(_dir, "nope.sh") } },
            Path.Combine(_dir, "i.gz")));
        Assert.That(e!.ExitCode, Is.EqualTo(ExitCodes.BadInput));
    }
}
