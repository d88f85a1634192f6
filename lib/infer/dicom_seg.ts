/**
 * DICOM Segmentation objects (PS3.3 A.51, the Segmentation IOD) for a predicted lung mask: binary, one segment
 * "lung" (SNOMED CT 39607008), one frame in the source image's geometry, referencing the source's study, series
 * and SOP instance, as viewers (OHIF, 3D Slicer), PACS and highdicom expect. Written with npm `dcmjs`; the patient
 * and study modules are copied from the source, because a SEG belongs to the source's study. Nothing from the header
 * goes into `predict`'s JSON or logs.
 *
 * @module
 */
import dcmjs from "dcmjs";
import dicomParser from "dicom-parser";
import { dicomInflater } from "../data/dicom_pixels.ts";
import { DataError } from "../data/errors.ts";
import { APPAUNET_VERSION } from "../checkpoint/version.ts";

/** The source image's header fields a SEG copies or references. */
export interface SegSource {
  /** SOP Class UID of the source image. */
  sopClassUid: string;
  /** SOP Instance UID of the source image. */
  sopInstanceUid: string;
  /** Study Instance UID. */
  studyInstanceUid: string;
  /** Series Instance UID of the source image. */
  seriesInstanceUid: string;
  /** Frame of Reference UID, when the source has one. */
  frameOfReferenceUid?: string;
  /** Rows and columns. */
  rows: number;
  columns: number;
  /** The patient and general study modules' attributes present in the source (copied as they are). */
  copied: Record<string, string>;
}

/** Patient and study attributes copied from the source into its SEG (PS3.3 C.7.1.1, C.7.2.1, C.7.1.3). */
const COPIED: Record<string, string> = {
  PatientName: "x00100010",
  PatientID: "x00100020",
  PatientBirthDate: "x00100030",
  PatientSex: "x00100040",
  StudyDate: "x00080020",
  StudyTime: "x00080030",
  ReferringPhysicianName: "x00080090",
  StudyID: "x00200010",
  AccessionNumber: "x00080050",
  StudyDescription: "x00081030",
  PatientOrientation: "x00200020",
};

/**
 * Reads what a SEG needs from a source DICOM file's header (any transfer syntax appaunet reads).
 *
 * @param bytes the source file
 * @param name the file, for errors
 * @returns the fields
 * @throws {DataError} naming the file and the missing attribute
 */
export function segSource(bytes: Uint8Array, name: string): SegSource {
  const ds = dicomParser.parseDicom(bytes, { inflater: dicomInflater, untilTag: "x7fe00010" });
  const str = (tag: string) => (ds.string(tag) ?? "").replace(/\0/g, "").trim();
  const need = (tag: string, what: string) => {
    const v = str(tag);
    if (!v) {
      throw new DataError(
        name,
        `no ${what}, which a DICOM SEG must reference`,
        "give the file its UIDs (e.g. `dcmodify -gst -gse -gin`), or predict without --dicom-seg",
      );
    }
    return v;
  };
  const copied: Record<string, string> = {};
  for (const [k, tag] of Object.entries(COPIED)) {
    const v = ds.string(tag);
    if (v !== undefined) copied[k] = v.replace(/\0/g, "").trim();
  }
  const frame = str("x00200052");
  return {
    sopClassUid: need("x00080016", "SOP Class UID (0008,0016)"),
    sopInstanceUid: need("x00080018", "SOP Instance UID (0008,0018)"),
    studyInstanceUid: need("x0020000d", "Study Instance UID (0020,000D)"),
    seriesInstanceUid: need("x0020000e", "Series Instance UID (0020,000E)"),
    ...(frame ? { frameOfReferenceUid: frame } : {}),
    rows: ds.uint16("x00280010") ?? 0,
    columns: ds.uint16("x00280011") ?? 0,
    copied,
  };
}

/**
 * A new UID under the UUID-derived root 2.25 (PS3.5 B.2).
 *
 * @returns the UID
 */
export function newUid(): string {
  const hex = crypto.randomUUID().replace(/-/g, "");
  return `2.25.${BigInt(`0x${hex}`).toString()}`;
}

/** Options of {@linkcode dicomSeg}. */
export interface DicomSegOptions {
  /** Series number of the SEG. Default 9901. */
  seriesNumber?: number;
  /** Content date and time. Default now. */
  now?: Date;
}

/**
 * A binary DICOM Segmentation of one lung mask over its source image.
 *
 * @example
 * ```ts
 * import { dicomSeg } from "./dicom_seg.ts";
 * import assert from "node:assert/strict";
 * const source = {
 *   sopClassUid: "1.2.840.10008.5.1.4.1.1.1.1", sopInstanceUid: "1.2.3.1", studyInstanceUid: "1.2.3",
 *   seriesInstanceUid: "1.2.3.4", rows: 2, columns: 4, copied: { PatientID: "anon" },
 * };
 * const seg = dicomSeg(source, Uint8Array.from([1, 1, 0, 0, 0, 1, 1, 0]));
 * assert.equal(String.fromCharCode(...seg.subarray(128, 132)), "DICM");
 * ```
 * @param source the source image's fields ({@linkcode segSource})
 * @param mask 0/1 per pixel, row-major, `rows × columns` of the source
 * @param opts series number, time
 * @returns the SEG's DICOM Part 10 bytes
 * @throws {Error} when the mask does not match the source's geometry
 */
export function dicomSeg(source: SegSource, mask: ArrayLike<number>, opts: DicomSegOptions = {}): Uint8Array {
  // Long by design: most of it is the Segmentation IOD's data set literal, attribute by attribute.
  const { rows, columns } = source;
  if (!(rows > 0 && columns > 0) || mask.length !== rows * columns) {
    throw new Error(`dicomSeg: the mask has ${mask.length} pixels, the source is ${columns}×${rows}`);
  }
  // BINARY: 1 bit per pixel, packed from the least significant bit (PS3.5 8.1.1), padded to an even length.
  const packed = new Uint8Array(Math.ceil(Math.ceil(mask.length / 8) / 2) * 2);
  for (let i = 0; i < mask.length; i++) if (mask[i]) packed[i >> 3] |= 1 << (i & 7);
  const now = opts.now ?? new Date();
  const date = now.toISOString().slice(0, 10).replace(/-/g, "");
  const time = now.toISOString().slice(11, 19).replace(/:/g, "");
  const sopInstanceUid = newUid(), seriesInstanceUid = newUid();
  const sct = (value: string, meaning: string) => [{
    CodeValue: value,
    CodingSchemeDesignator: "SCT",
    CodeMeaning: meaning,
  }];
  const dimensionOrganizationUid = newUid();
  const dataset: Record<string, unknown> = {
    SOPClassUID: "1.2.840.10008.5.1.4.1.1.66.4",
    SOPInstanceUID: sopInstanceUid,
    Modality: "SEG",
    // Type 2 attributes of the patient and general study modules: present, empty when the source lacks them.
    ...Object.fromEntries(Object.keys(COPIED).filter((k) => k !== "StudyDescription").map((k) => [k, ""])),
    ...Object.fromEntries(Object.entries(source.copied).filter(([k]) => k !== "PatientOrientation")),
    StudyInstanceUID: source.studyInstanceUid,
    SeriesInstanceUID: seriesInstanceUid,
    SeriesNumber: String(opts.seriesNumber ?? 9901),
    SeriesDescription: "appaunet lung segmentation",
    InstanceNumber: "1",
    ...(source.frameOfReferenceUid
      ? { FrameOfReferenceUID: source.frameOfReferenceUid, PositionReferenceIndicator: "" }
      : { PatientOrientation: source.copied.PatientOrientation ?? "" }),
    Manufacturer: "appaunet",
    ManufacturerModelName: "APPAU-Net",
    DeviceSerialNumber: "0",
    SoftwareVersions: APPAUNET_VERSION,
    ContentDate: date,
    ContentTime: time,
    ContentLabel: "LUNG",
    ContentDescription: "Lung mask predicted by appaunet",
    ContentCreatorName: "",
    InstanceCreationDate: date,
    InstanceCreationTime: time,
    ImageType: ["DERIVED", "PRIMARY"],
    SamplesPerPixel: 1,
    PhotometricInterpretation: "MONOCHROME2",
    Rows: rows,
    Columns: columns,
    BitsAllocated: 1,
    BitsStored: 1,
    HighBit: 0,
    PixelRepresentation: 0,
    LossyImageCompression: "00",
    SegmentationType: "BINARY",
    NumberOfFrames: "1",
    SegmentSequence: [{
      SegmentNumber: 1,
      SegmentLabel: "lung",
      SegmentAlgorithmType: "AUTOMATIC",
      SegmentAlgorithmName: "appaunet APPAU-Net",
      SegmentedPropertyCategoryCodeSequence: sct("91723000", "Anatomical Structure"),
      SegmentedPropertyTypeCodeSequence: sct("39607008", "Lung"),
    }],
    DimensionOrganizationSequence: [{ DimensionOrganizationUID: dimensionOrganizationUid }],
    DimensionIndexSequence: [{
      DimensionOrganizationUID: dimensionOrganizationUid,
      DimensionIndexPointer: "0062000B",
      FunctionalGroupPointer: "0062000A",
      DimensionDescriptionLabel: "ReferencedSegmentNumber",
    }],
    ReferencedSeriesSequence: [{
      SeriesInstanceUID: source.seriesInstanceUid,
      ReferencedInstanceSequence: [{
        ReferencedSOPClassUID: source.sopClassUid,
        ReferencedSOPInstanceUID: source.sopInstanceUid,
      }],
    }],
    SharedFunctionalGroupsSequence: [{}],
    PerFrameFunctionalGroupsSequence: [{
      FrameContentSequence: [{ DimensionIndexValues: [1] }],
      SegmentIdentificationSequence: [{ ReferencedSegmentNumber: 1 }],
      DerivationImageSequence: [{
        DerivationCodeSequence: [{
          CodeValue: "113076",
          CodingSchemeDesignator: "DCM",
          CodeMeaning: "Segmentation",
        }],
        SourceImageSequence: [{
          ReferencedSOPClassUID: source.sopClassUid,
          ReferencedSOPInstanceUID: source.sopInstanceUid,
          PurposeOfReferenceCodeSequence: [{
            CodeValue: "121322",
            CodingSchemeDesignator: "DCM",
            CodeMeaning: "Source image for image processing operation",
          }],
        }],
      }],
    }],
    PixelData: [packed.buffer],
    _vrMap: { PixelData: "OB" },
  };
  // deno-lint-ignore no-explicit-any
  const { DicomDict, DicomMetaDictionary } = (dcmjs as any).data;
  const meta = DicomMetaDictionary.denaturalizeDataset({
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: dataset.SOPClassUID,
    MediaStorageSOPInstanceUID: sopInstanceUid,
    TransferSyntaxUID: "1.2.840.10008.1.2.1",
    ImplementationClassUID: "2.25.196520787419196424233566373526431436543",
    ImplementationVersionName: `APPAUNET_${APPAUNET_VERSION}`.slice(0, 16),
  });
  const dict = new DicomDict(meta);
  dict.dict = DicomMetaDictionary.denaturalizeDataset(dataset);
  return new Uint8Array(dict.write());
}
