"""virtkit driver for Xen guests: ``xen:///system`` through the xl toolstack.

Public API beyond the driver: :func:`virtkit_xen.native.xl_to_xml` and
:func:`virtkit_xen.native.xml_to_xl` (``domxml-from-native`` / ``domxml-to-native xen-xl``)."""

__version__ = "0.1.0"
