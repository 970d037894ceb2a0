using Kiln.Kernel.Build;

namespace Kiln.Tests.Build;

public sealed class MakeProgressTests
{
    [Test]
    public void Steps_count_against_the_previous_build_until_they_pass_it()
    {
        var progress = new MakeProgress(_ => { }, expectedSteps: 2, interval: TimeSpan.FromHours(1));
        progress.OnLine("  CC      kernel/fork.o");
        Assert.That(progress.Describe(), Does.EndWith("1/2 (~50%) steps, now CC kernel/fork.o"));
        progress.OnLine("make[1]: Entering directory");
        progress.OnLine("  LD      vmlinux");
        progress.OnLine("  HDRINST usr/include/asm/stat.h");
        Assert.That(progress.Describe(), Does.EndWith("] 3 steps, now HDRINST usr/include/asm/stat.h"), "a guess that was too small is dropped");
    }
}
