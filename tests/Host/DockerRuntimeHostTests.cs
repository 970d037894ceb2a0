using NUnit.Framework;

namespace Kiln.Tests.Host;

/// <summary>--runtime=docker's bad-input paths through the real host: they stop before any work, with what to do.</summary>
public class DockerRuntimeHostTests
{
    [Test]
    public void DockerWithADistccFarmIsBadInput()
    {
        var r = BuildHost.Run("--target=CacheKey", "--runtime=docker", "--distcc-hosts=127.0.0.1/2");
        Assert.That(r.ExitCode, Is.EqualTo(2), r.ToString());
        Assert.That(r.StdErr, Does.Contain("--distcc-hosts").And.Contain("without network"));
    }

    [Test]
    public void AnUnreachableDaemonExits2SayingHowToStartIt()
    {
        Prerequisite.Require(Kiln.Kernel.HostSetup.Prerequisites.OnPath("docker"), "the docker client is not installed (apt-get install docker.io)");
        using var cache = new TempDir();
        var r = BuildHost.Run(null, new Dictionary<string, string> { ["DOCKER_HOST"] = "unix://" + cache["no-dockerd.sock"] },
            "--target=Setup", "--kernel=6.1", "--runtime=docker", "--cache-dir=" + cache["cache"]);
        Assert.That(r.ExitCode, Is.EqualTo(2), r.ToString());
        Assert.That(r.StdErr, Does.Contain("docker daemon does not answer").And.Contain("dockerd &").And.Contain("systemctl start docker"));
        Assert.That(Directory.Exists(cache["cache/sources"]), Is.False, "nothing was fetched before the runtime was known to work");
    }
}
