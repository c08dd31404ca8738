"""virtkit driver for QEMU/KVM guests over QMP (``qemu:///system``, ``qemu:///session``).

The driver class is :class:`virtkit_qemu.driver.QemuDriver`, registered under the entry-point
group ``virtkit.drivers`` as ``qemu``. Importing this package loads nothing else.
"""

__version__ = "0.1.0"
