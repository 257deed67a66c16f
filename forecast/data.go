package forecast

// The CDC supporting data, embedded as published (see data/README.md), and
// the shapes of its two XML schemas (AntigenSupportingData.xsd,
// ScheduleSupportingData.xsd). These xml* types mirror the files one to
// one; model.go turns them into the typed, pre-parsed structures the
// engine uses.

import (
	"embed"
	"encoding/xml"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

//go:embed data/*.xml data/cvx.tsv
var dataFS embed.FS

// DataVersion names the CDSi supporting-data release embedded in the engine.
const DataVersion = "CDSi Supporting Data 4.64-508 (2025-11-10)"

type xmlAntigen struct {
	Immunity struct {
		ClinicalHistory []struct {
			GuidelineCode  string `xml:"guidelineCode"`
			GuidelineTitle string `xml:"guidelineTitle"`
		} `xml:"clinicalHistory"`
		DateOfBirth []struct {
			ImmunityBirthDate string `xml:"immunityBirthDate"`
			BirthCountry      string `xml:"birthCountry"`
			Exclusion         []struct {
				ExclusionCode  string `xml:"exclusionCode"`
				ExclusionTitle string `xml:"exclusionTitle"`
			} `xml:"exclusion"`
		} `xml:"dateOfBirth"`
	} `xml:"immunity"`
	Contraindications struct {
		VaccineGroup struct {
			Contraindication []struct {
				ObservationCode      string `xml:"observationCode"`
				ObservationTitle     string `xml:"observationTitle"`
				ContraindicationText string `xml:"contraindicationText"`
				Guidance             string `xml:"contraindicationGuidance"`
				BeginAge             string `xml:"beginAge"`
				EndAge               string `xml:"endAge"`
			} `xml:"contraindication"`
		} `xml:"vaccineGroup"`
		Vaccine struct {
			Contraindication []struct {
				ObservationCode      string `xml:"observationCode"`
				ObservationTitle     string `xml:"observationTitle"`
				ContraindicationText string `xml:"contraindicationText"`
				Guidance             string `xml:"contraindicationGuidance"`
				Vaccines             []struct {
					VaccineType string `xml:"vaccineType"`
					CVX         string `xml:"cvx"`
					BeginAge    string `xml:"beginAge"`
					EndAge      string `xml:"endAge"`
				} `xml:"contraindicatedVaccine"`
			} `xml:"contraindication"`
		} `xml:"vaccine"`
	} `xml:"contraindications"`
	Series []xmlSeries `xml:"series"`
}

type xmlSeries struct {
	SeriesName             string   `xml:"seriesName"`
	TargetDisease          string   `xml:"targetDisease"`
	VaccineGroup           string   `xml:"vaccineGroup"`
	SeriesAdminGuidance    []string `xml:"seriesAdminGuidance"`
	SeriesType             string   `xml:"seriesType"`
	EquivalentSeriesGroups string   `xml:"equivalentSeriesGroups"`
	RequiredGender         []string `xml:"requiredGender"`
	SelectSeries           struct {
		DefaultSeries    string `xml:"defaultSeries"`
		ProductPath      string `xml:"productPath"`
		SeriesGroupName  string `xml:"seriesGroupName"`
		SeriesGroup      string `xml:"seriesGroup"`
		SeriesPriority   string `xml:"seriesPriority"`
		SeriesPreference string `xml:"seriesPreference"`
		MinAgeToStart    string `xml:"minAgeToStart"`
		MaxAgeToStart    string `xml:"maxAgeToStart"`
	} `xml:"selectSeries"`
	Indication []struct {
		ObservationCode struct {
			Text string `xml:"text"`
			Code string `xml:"code"`
		} `xml:"observationCode"`
		Description string `xml:"description"`
		BeginAge    string `xml:"beginAge"`
		EndAge      string `xml:"endAge"`
		Guidance    string `xml:"guidance"`
	} `xml:"indication"`
	SeriesDose []xmlSeriesDose `xml:"seriesDose"`
}

type xmlInterval struct {
	FromPrevious    string `xml:"fromPrevious"`
	FromTargetDose  string `xml:"fromTargetDose"`
	FromMostRecent  string `xml:"fromMostRecent"`
	FromRelevantObs struct {
		Text string `xml:"text"`
		Code string `xml:"code"`
	} `xml:"fromRelevantObs"`
	AbsMinInt        string `xml:"absMinInt"`
	MinInt           string `xml:"minInt"`
	EarliestRecInt   string `xml:"earliestRecInt"`
	LatestRecInt     string `xml:"latestRecInt"`
	IntervalPriority string `xml:"intervalPriority"`
	EffectiveDate    string `xml:"effectiveDate"`
	CessationDate    string `xml:"cessationDate"`
}

type xmlSeriesDose struct {
	DoseNumber string `xml:"doseNumber"`
	Age        []struct {
		AbsMinAge      string `xml:"absMinAge"`
		MinAge         string `xml:"minAge"`
		EarliestRecAge string `xml:"earliestRecAge"`
		LatestRecAge   string `xml:"latestRecAge"`
		MaxAge         string `xml:"maxAge"`
		EffectiveDate  string `xml:"effectiveDate"`
		CessationDate  string `xml:"cessationDate"`
	} `xml:"age"`
	Interval          []xmlInterval `xml:"interval"`
	AllowableInterval []xmlInterval `xml:"allowableInterval"`
	PreferableVaccine []struct {
		VaccineType         string `xml:"vaccineType"`
		CVX                 string `xml:"cvx"`
		BeginAge            string `xml:"beginAge"`
		EndAge              string `xml:"endAge"`
		TradeName           string `xml:"tradeName"`
		MVX                 string `xml:"mvx"`
		Volume              string `xml:"volume"`
		ForecastVaccineType string `xml:"forecastVaccineType"`
	} `xml:"preferableVaccine"`
	AllowableVaccine []struct {
		VaccineType string `xml:"vaccineType"`
		CVX         string `xml:"cvx"`
		BeginAge    string `xml:"beginAge"`
		EndAge      string `xml:"endAge"`
	} `xml:"allowableVaccine"`
	InadvertentVaccine []struct {
		VaccineType string `xml:"vaccineType"`
		CVX         string `xml:"cvx"`
	} `xml:"inadvertentVaccine"`
	ConditionalSkip []struct {
		Context  string `xml:"context"`
		SetLogic string `xml:"setLogic"`
		Set      []struct {
			SetID          string `xml:"setID"`
			SetDescription string `xml:"setDescription"`
			EffectiveDate  string `xml:"effectiveDate"`
			CessationDate  string `xml:"cessationDate"`
			ConditionLogic string `xml:"conditionLogic"`
			Condition      []struct {
				ConditionID    string `xml:"conditionID"`
				ConditionType  string `xml:"conditionType"`
				StartDate      string `xml:"startDate"`
				EndDate        string `xml:"endDate"`
				BeginAge       string `xml:"beginAge"`
				EndAge         string `xml:"endAge"`
				Interval       string `xml:"interval"`
				DoseCount      string `xml:"doseCount"`
				DoseType       string `xml:"doseType"`
				DoseCountLogic string `xml:"doseCountLogic"`
				VaccineTypes   string `xml:"vaccineTypes"`
				SeriesGroups   string `xml:"seriesGroups"`
			} `xml:"condition"`
		} `xml:"set"`
	} `xml:"conditionalSkip"`
	RecurringDose          string `xml:"recurringDose"`
	SeasonalRecommendation struct {
		StartDate string `xml:"startDate"`
		EndDate   string `xml:"endDate"`
	} `xml:"seasonalRecommendation"`
}

type xmlSchedule struct {
	LiveVirusConflicts struct {
		LiveVirusConflict []struct {
			Previous struct {
				VaccineType string `xml:"vaccineType"`
				CVX         string `xml:"cvx"`
			} `xml:"previous"`
			Current struct {
				VaccineType string `xml:"vaccineType"`
				CVX         string `xml:"cvx"`
			} `xml:"current"`
			ConflictBeginInterval  string `xml:"conflictBeginInterval"`
			MinConflictEndInterval string `xml:"minConflictEndInterval"`
			ConflictEndInterval    string `xml:"conflictEndInterval"`
		} `xml:"liveVirusConflict"`
	} `xml:"liveVirusConflicts"`
	VaccineGroups struct {
		VaccineGroup []struct {
			Name                       string `xml:"name"`
			AdministerFullVaccineGroup string `xml:"administerFullVaccineGroup"`
		} `xml:"vaccineGroup"`
	} `xml:"vaccineGroups"`
	VaccineGroupToAntigenMap struct {
		VaccineGroupMap []struct {
			Name    string   `xml:"name"`
			Antigen []string `xml:"antigen"`
		} `xml:"vaccineGroupMap"`
	} `xml:"vaccineGroupToAntigenMap"`
	CVXToAntigenMap struct {
		CVXMap []struct {
			CVX              string `xml:"cvx"`
			ShortDescription string `xml:"shortDescription"`
			Association      []struct {
				Antigen             string `xml:"antigen"`
				AssociationBeginAge string `xml:"associationBeginAge"`
				AssociationEndAge   string `xml:"associationEndAge"`
			} `xml:"association"`
		} `xml:"cvxMap"`
	} `xml:"cvxToAntigenMap"`
	Observations struct {
		Observation []struct {
			ObservationCode      string `xml:"observationCode"`
			ObservationTitle     string `xml:"observationTitle"`
			Group                string `xml:"group"`
			IndicationText       string `xml:"indicationText"`
			ContraindicationText string `xml:"contraindicationText"`
			ClarifyingText       string `xml:"clarifyingText"`
			CodedValues          struct {
				CodedValue []struct {
					Code       string `xml:"code"`
					CodeSystem string `xml:"codeSystem"`
					Text       string `xml:"text"`
				} `xml:"codedValue"`
			} `xml:"codedValues"`
		} `xml:"observation"`
	} `xml:"observations"`
}

// rawData is the decoded supporting data before compilation.
type rawData struct {
	schedule xmlSchedule
	antigens []xmlAntigen // in file-name order
	cvxTable []byte
}

// loadRawData decodes every supporting-data file of fsys (laid out as
// data/*.xml and data/cvx.tsv).
func loadRawData(fsys fs.FS) (*rawData, error) {
	var rd rawData
	b, err := fs.ReadFile(fsys, "data/ScheduleSupportingData.xml")
	if err != nil {
		return nil, fmt.Errorf("read schedule supporting data: %w", err)
	}
	if err := xml.Unmarshal(b, &rd.schedule); err != nil {
		return nil, fmt.Errorf("parse ScheduleSupportingData.xml: %w", err)
	}
	names, err := fs.Glob(fsys, "data/AntigenSupportingData*.xml")
	if err != nil {
		return nil, fmt.Errorf("list antigen supporting data: %w", err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no AntigenSupportingData*.xml in the supporting data")
	}
	sort.Strings(names)
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", n, err)
		}
		var a xmlAntigen
		if err := xml.Unmarshal(b, &a); err != nil {
			return nil, fmt.Errorf("parse %s: %w", strings.TrimPrefix(n, "data/"), err)
		}
		rd.antigens = append(rd.antigens, a)
	}
	rd.cvxTable, err = fs.ReadFile(fsys, "data/cvx.tsv")
	if err != nil {
		return nil, fmt.Errorf("read CVX table: %w", err)
	}
	return &rd, nil
}
