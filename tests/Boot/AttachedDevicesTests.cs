using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Kiln.Kernel;
using Kiln.Kernel.Boot;
using Kiln.Kernel.Diagnostics;
using NUnit.Framework;

namespace Kiln.Tests.Boot;

/// <summary>The host side of the devices without QEMU: what is put on each device, and what the host reads back.</summary>
public class AttachedDevicesTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("kiln-devices-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    [Test]
    public void A_big_endian_guest_gets_no_virtio_fs_and_its_devices_sit_on_channel_io()
    {
        using var devices = AttachedDevices.Prepare(MachineProfile.Default(Arch.S390x), _dir, new RecordingLog());
        var skipped = devices.Observe().Skipped;
        Assert.That(devices.Attached, Does.Not.Contain(GuestDevice.VirtioFs));
        Assert.That(skipped["virtio-fs"], Does.Contain("byte orders").Or.Contain("no virtiofsd").Or.Contain("needs root"));
        Assert.That(string.Join(' ', devices.QemuArguments), Does.Contain("virtio-blk-ccw,drive=kilnblk").And.Contain("virtio-9p-ccw,fsdev=kiln9p"));
    }

    [Test]
    public void Virtiofsd_serves_the_guests_whose_fuse_messages_it_reads_as_sent()
    {
        Prerequisite.Require(Arch.Host == Arch.X86_64, "the byte-order and open-flag cases are written for an x86_64 host");
        Assert.That(AttachedDevices.ForeignFuse(Arch.S390x), Does.Contain("byte orders"));
        Assert.That(AttachedDevices.ForeignFuse(Arch.Ppc64le), Does.Contain("O_DIRECTORY on this x86_64 host"));
        Assert.That(new[] { Arch.X86_64, Arch.Arm64, Arch.Riscv64 }.Select(AttachedDevices.ForeignFuse), Is.All.Null);
    }

    [Test]
    public void Each_device_gets_its_own_token_and_the_host_reads_back_what_the_guest_left()
    {
        using var devices = AttachedDevices.Prepare(MachineProfile.Default(Arch.X86_64), _dir, new RecordingLog());
        var args = string.Join(' ', devices.QemuArguments);
        var before = devices.Observe();

        Assert.That(devices.Attached, Does.Contain(GuestDevice.Blk).And.Contain(GuestDevice.Net).And.Contain(GuestDevice.NineP));
        Assert.That(devices.Attached, Does.Not.Contain(GuestDevice.Vsock));
        Assert.That(before.Skipped.Keys, Does.Contain("vsock"));
        Assert.That(before.Tokens.Values.Distinct().Count(), Is.EqualTo(before.Tokens.Count), "one token per device");
        Assert.That(args, Does.Contain("virtio-blk-pci,drive=kilnblk").And.Contain("virtio-9p-pci,fsdev=kiln9p,mount_tag=kiln9p")
            .And.Contain("user,id=kilnnet,restrict=on,guestfwd=tcp:10.0.2.100:1234-tcp:127.0.0.1:"));
        var disk = File.ReadAllBytes(Path.Combine(_dir, "disk.img"));
        Assert.That(Encoding.ASCII.GetString(disk, 0, 26), Is.EqualTo("KILN-BLK " + before.Tokens["virtio-blk"] + "\n"));
        Assert.That(File.ReadAllText(Path.Combine(_dir, "share-9p", "to-guest")), Is.EqualTo(before.Tokens["9p"] + "\n"));

        // What the guest does, done from here: ask the port, write the disk's sector 1 and the share's from-guest.
        var port = int.Parse(Regex.Match(args, @"tcp:127\.0\.0\.1:(\d+)").Groups[1].Value);
        using (var client = new TcpClient("127.0.0.1", port))
        {
            var stream = client.GetStream();
            stream.Write(Encoding.ASCII.GetBytes("GET /KILN/0123 HTTP/1.1\r\nHost: 10.0.2.100:1234\r\n\r\n"));
            // The port keeps the connection open (as QEMU's guestfwd needs), so read the answer's lines, not to the end.
            var reader = new StreamReader(stream);
            Assert.That(reader.ReadLine(), Is.EqualTo("HTTP/1.0 200 OK"));
            while (reader.ReadLine() is { Length: > 0 }) { }
            Assert.That(reader.ReadLine(), Is.EqualTo(before.Tokens["virtio-net"]));
        }
        using (var image = File.OpenWrite(Path.Combine(_dir, "disk.img")))
        {
            image.Position = 512;
            image.Write(Encoding.ASCII.GetBytes("KILN-BLK-GUEST " + before.Tokens["virtio-blk"] + "\n"));
        }
        File.WriteAllText(Path.Combine(_dir, "share-9p", "from-guest"), before.Tokens["9p"] + "\n");

        var after = devices.Observe();
        Assert.That(after.NetRequestPath, Is.EqualTo("/KILN/0123"));
        Assert.That(after.BlkSectorOne, Is.EqualTo("KILN-BLK-GUEST " + before.Tokens["virtio-blk"]));
        Assert.That(after.SharedFromGuest["9p"], Is.EqualTo(before.Tokens["9p"]));
    }
}
